// A colony's past breaths, newest first, read from GET /v1/colonies/{id}/history. The server keeps them, so they
// survive a reload; older pages load when the end of the list scrolls into view (or on the button there). Each
// breath can be forgotten (DELETE …/cascades/{id}): a first click asks, a second one forgets it in every field.

import { colonyPath } from "./api.js";
import { element, replaceChildren } from "./dom.js";
import { INHALE, titleOf } from "./organisms.js";
import { barsFromTimings, ganttOf } from "./timeline.js";

const PAGE = 5;

/** The history list and the control that loads older breaths. */
export class HistoryView {
  #list;
  #more;
  #status;
  #api;
  #colony = null;
  #next = null;
  #loading = false;
  #shown = 0;
  #watcher;

  #onForgotten;

  constructor({ list, more, status }, api, onForgotten = () => {}) {
    this.#onForgotten = onForgotten;
    this.#list = list;
    this.#more = more;
    this.#status = status;
    this.#api = api;
    this.#more.addEventListener("click", () => this.more());
    this.#watcher = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.more();
    });
  }

  /** Show colony `colony`'s history from its newest breath (null: no colony). */
  async show(colony) {
    this.#colony = colony;
    this.#next = null;
    this.#shown += 1;
    replaceChildren(this.#list);
    this.#more.hidden = true;
    this.#status.textContent = "";
    if (colony !== null) await this.#load(null);
  }

  /** Load the next older page, if there is one and none is loading. */
  async more() {
    if (this.#colony !== null && this.#next !== null && !this.#loading) await this.#load(this.#next);
  }

  /** A breath just ended: put it at the top (the newest record, if the list does not have it yet). */
  async addNewest() {
    if (this.#colony === null) return;
    const shown = this.#shown;
    try {
      const page = await this.#api.json("GET", `${colonyPath(this.#colony, "history")}?limit=1`);
      if (shown !== this.#shown) return;
      for (const record of page.cascades) {
        if (!this.#list.querySelector(`[data-cascade="${record.id}"]`)) this.#list.prepend(this.#item(record));
      }
      if (page.cascades.length) this.#status.textContent = "";
    } catch (error) {
      this.#status.textContent = `Could not read the history: ${error.message}`;
    }
  }

  async #load(before) {
    const shown = this.#shown;
    this.#loading = true;
    this.#watcher.unobserve(this.#more);
    const query = before === null ? `?limit=${PAGE}` : `?limit=${PAGE}&before=${before}`;
    try {
      const page = await this.#api.json("GET", colonyPath(this.#colony, "history") + query);
      if (shown !== this.#shown) return;
      this.#list.append(...page.cascades.map((record) => this.#item(record)));
      this.#next = page.next_before;
      this.#status.textContent = this.#list.childElementCount ? "" : "No breaths yet in this colony.";
    } catch (error) {
      if (shown === this.#shown) this.#status.textContent = `Could not read the history: ${error.message}`;
    } finally {
      this.#loading = false;
    }
    if (shown !== this.#shown) return;
    this.#more.hidden = this.#next === null;
    // Watching again reports at once whether the end is still in view, so a short page is followed by the next.
    if (this.#next !== null) this.#watcher.observe(this.#more);
  }

  /** A history entry with its forget control. */
  #item(record) {
    const colony = this.#colony;
    const forget = element("button", { className: "record-forget", attrs: { type: "button" } }, "Forget");
    let asked = false;
    forget.addEventListener("click", async () => {
      if (!asked) {
        asked = true;
        forget.textContent = "Forget it everywhere?";
        return;
      }
      forget.disabled = true;
      try {
        await this.#api.json("DELETE", colonyPath(colony, "cascades", String(record.id)));
        item.remove();
        this.#status.textContent = `Breath ${record.id} is forgotten: its words are gone from every field.`;
        this.#onForgotten();
      } catch (error) {
        forget.disabled = false;
        this.#status.textContent = `Could not forget breath ${record.id}: ${error.message}`;
      }
    });
    const item = historyItem(record, forget);
    return item;
  }
}

/** One past breath: its prompt, the meta sentence, Artist's piece, the three voices, any failures, its timeline;
 * `control` stands in its header. */
function historyItem(record, control) {
  const heading = element("h3", { id: `cascade-${record.id}` }, record.prompt ?? "(no prompt recorded)");
  const when = new Date(record.created * 1000);
  const texts = record.texts ?? {};
  const article = element("article", { attrs: { "aria-labelledby": heading.id } },
    element("header", { className: "record-head" }, heading,
      element("p", { className: "record-when" }, `Breath ${record.id} · `,
        element("time", { dateTime: when.toISOString() }, when.toLocaleString())), control));
  if (texts.meta) article.append(element("p", { className: "record-meta" }, texts.meta));
  if (texts.artist) article.append(element("div", { className: "record-artist" }, texts.artist));
  const voices = INHALE.filter((name) => texts[name]);
  if (voices.length) {
    article.append(element("details", { className: "record-voices" },
      element("summary", {}, "HAiKU, Sonnet and Prose"),
      element("dl", {}, ...voices.flatMap((name) => [
        element("dt", {}, titleOf(name)), element("dd", { className: "record-text" }, texts[name])]))));
  }
  const failures = Object.entries(record.errors ?? {});
  if (failures.length) {
    article.append(element("ul", { className: "record-errors" }, ...failures.map(([name, error]) =>
      element("li", {}, `${titleOf(name)} could not answer: ${error.type}: ${error.message}`))));
  }
  if (record.timings && Object.keys(record.timings).length) article.append(ganttOf(barsFromTimings(record.timings)));
  return element("li", { className: "record", dataset: { cascade: String(record.id) } }, article);
}
