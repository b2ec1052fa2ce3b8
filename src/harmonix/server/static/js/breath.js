// A breath as it arrives: four panels that fill as each stage ends, Prose and Artist token by token, Artist's piece
// coloured by source with its legend, the meta sentence and the timeline.

import { element, replaceChildren, seconds } from "./dom.js";
import { ORGANISMS, SOURCES, titleOf } from "./organisms.js";

const SOURCE_LABELS = new Map(SOURCES.map(({ name, label }) => [name, label]));

/** One organism's panel. Its `data-state` says where it is: idle, waiting, writing, done, failed or missing (the
 * breath ended before this organism did). */
class Panel {
  #article;
  #text;
  #state;
  #attempt = 0;
  #written = "";

  constructor(name) {
    const heading = element("h3", { id: `panel-${name}-title` }, titleOf(name));
    this.#state = element("span", { className: "panel-state" });
    this.#text = element("div", { className: "panel-text", dataset: { text: name } });
    this.#article = element("article", {
      className: "panel", id: `panel-${name}`, dataset: { organism: name, state: "idle" },
      attrs: { "aria-labelledby": heading.id },
    }, element("header", { className: "panel-head" }, heading, this.#state), this.#text);
  }

  get node() {
    return this.#article;
  }

  get state() {
    return this.#article.dataset.state;
  }

  /** Empty; `state` is "waiting" when a breath has started, "idle" when none has. */
  reset(state) {
    this.#attempt = 0;
    this.#written = "";
    replaceChildren(this.#text);
    this.#setState(state, state === "waiting" ? "waiting…" : "");
  }

  /** A piece of text the organism's model just wrote. A later attempt replaces what an earlier one wrote (the
   * organism rejected it); a stage that has ended takes no more tokens. */
  token(attempt, text) {
    if (this.state !== "waiting" && this.state !== "writing") return;
    if (attempt < this.#attempt) return;
    if (attempt > this.#attempt) {
      this.#attempt = attempt;
      this.#written = "";
    }
    this.#written += text;
    this.#text.textContent = this.#written;
    this.#setState("writing", attempt > 1 ? `writing, attempt ${attempt}…` : "writing…");
  }

  /** The stage has ended: its final text (`content`: nodes to show instead of the plain text), or its error. */
  finish(stage, content = null) {
    if (stage.error) {
      replaceChildren(this.#text, element("p", { className: "stage-error" },
        `${titleOf(stage.organism)} could not answer: ${stage.error.type}: ${stage.error.message}`));
      this.#setState("failed", `failed after ${seconds(stage.seconds)}`);
      return;
    }
    replaceChildren(this.#text, ...(content ?? [stage.text ?? ""]));
    this.#setState("done", seconds(stage.seconds));
  }

  /** The breath ended before this stage did. */
  abandon() {
    if (this.state === "waiting" || this.state === "writing") this.#setState("missing", "did not finish");
  }

  #setState(state, label) {
    this.#article.dataset.state = state;
    this.#state.textContent = label;
  }
}

/** Artist's piece as spans, each marked with its source (a colour, and for screen readers its name). */
function wovenSpans(spans) {
  return spans.map(({ source, text }) => element("span", { className: `woven source-${source}`, dataset: { source } },
    element("span", { className: "visually-hidden" }, `${SOURCE_LABELS.get(source) ?? source}: `), text));
}

/** The breath's view: panels, legend, meta sentence and timeline. `announce(text)` tells screen readers what
 * happened (a polite live region), so the panels themselves need not be live. */
export class BreathView {
  #panels;
  #legend;
  #meta;
  #timeline;
  #announce;

  constructor({ panels, legend, meta, timeline }, announce) {
    this.#panels = new Map(ORGANISMS.map(({ name }) => [name, new Panel(name)]));
    replaceChildren(panels, ...[...this.#panels.values()].map((panel) => panel.node));
    this.#legend = legend;
    this.#meta = meta;
    this.#timeline = timeline;
    this.#announce = announce;
    this.clear();
  }

  /** No breath shown (another colony was chosen). */
  clear() {
    for (const panel of this.#panels.values()) panel.reset("idle");
    this.#legend.hidden = true;
    this.#meta.textContent = "";
    this.#timeline.clear();
  }

  /** A breath has started: every panel waits, the timeline runs. */
  start() {
    for (const panel of this.#panels.values()) panel.reset("waiting");
    this.#legend.hidden = true;
    this.#meta.textContent = "";
    this.#timeline.start();
  }

  /** One event of the breath's stream. */
  handle(name, data) {
    if (name === "token") this.#panels.get(data.organism)?.token(data.attempt, data.text);
    else if (name === "stage" || name === "artist") this.#stage(data);
    else if (name === "meta") this.#meta.textContent = data.sentence ?? "(no meta sentence this time)";
    else if (name === "done") this.#timeline.finish(data.timings);
  }

  /** The breath ended early (an error, a lost connection): what arrived stays, the rest is marked unfinished. */
  interrupt() {
    for (const panel of this.#panels.values()) panel.abandon();
    this.#timeline.stop();
  }

  #stage(stage) {
    const panel = this.#panels.get(stage.organism);
    if (!panel) return;
    const woven = stage.organism === "artist" && !stage.error && Array.isArray(stage.spans) && stage.spans.length;
    panel.finish(stage, woven ? wovenSpans(stage.spans) : null);
    if (woven) this.#legend.hidden = false;
    this.#timeline.ended(stage.organism);
    this.#announce(stage.error ? `${titleOf(stage.organism)} failed.` : `${titleOf(stage.organism)} answered.`);
  }
}
