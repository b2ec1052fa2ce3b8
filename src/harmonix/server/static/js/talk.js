// Talking: the prompt box and one breath at a time. Enter sends, Shift+Enter starts a new line; the button is off
// while a breath runs. Whatever happens (a bad prompt, a busy server, a lost connection) ends with a message next to
// the box and the box ready again: after 429 once the server's Retry-After has passed.
//
// A breath is a run on the server: the page asks it to go on if the page goes away (on_disconnect: continue) and
// keeps its id in the tab's session storage until it ends, so a reload rejoins it (every event again, from the
// first) instead of losing it; Stop cancels it, and what it had not committed rolls back.

import { colonyPath } from "./api.js";

/** The prompt form. `breath` shows the breath; `onBusy(busy)` hears when a breath starts and ends; `onBreathed()`
 * when a breath that started has ended (what it committed is on the server now: fields and history change). */
export class Talk {
  #form;
  #prompt;
  #send;
  #error;
  #api;
  #breath;
  #announce;
  #hooks;
  #colony = null;
  #run = null;
  #stopButton;
  #storage;
  #busy = false;
  #waitUntil = 0;
  #countdown = null;

  constructor({ form, prompt, send, stop, error }, api, breath, announce, storage, hooks) {
    this.#form = form;
    this.#prompt = prompt;
    this.#send = send;
    this.#stopButton = stop;
    this.#error = error;
    this.#api = api;
    this.#breath = breath;
    this.#announce = announce;
    this.#storage = storage;
    this.#hooks = hooks;
    this.#stopButton.addEventListener("click", () => this.#stop());
    this.#prompt.addEventListener("keydown", (event) => this.#keydown(event));
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#breathe();
    });
    this.#refresh();
  }

  /** Breathe in colony `colony` from now on (null: no colony, nothing to send to); a breath of it that this tab
   * started and has not seen end is rejoined. */
  setColony(colony) {
    this.#colony = colony;
    this.#error.textContent = colony ? "" : "Create a colony to begin.";
    this.#refresh();
    const run = colony ? this.#storage.getItem(runKey(colony)) : null;
    if (run && !this.#busy) this.#rejoin(colony, run);
  }

  #keydown(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    this.#form.requestSubmit();
  }

  async #breathe() {
    if (this.#busy || this.#colony === null || Date.now() < this.#waitUntil) return;
    const colony = this.#colony;
    await this.#watch(colony, "Breathing…", (handlers) => this.#api.stream(colonyPath(colony, "cascades"),
      { prompt: this.#prompt.value, on_disconnect: "continue" }, handlers));
  }

  /** Rejoin run `run` of `colony`, drawing every event again; a run the server no longer knows is let go. */
  async #rejoin(colony, run) {
    this.#run = run;
    await this.#watch(colony, "Rejoining the breath that was running…",
      (handlers) => this.#api.follow(colonyPath(colony, "runs", run, "stream"), handlers), true);
  }

  /** Show a breath's events as `open(handlers)` delivers them, Stop at hand, until it ends one way or another. */
  async #watch(colony, saying, open, rejoined = false) {
    this.#setBusy(true);
    this.#error.textContent = "";
    this.#announce(saying);
    let started = false;
    try {
      await open({
        onOpen: () => {
          started = true;
          this.#breath.start();
        },
        onEvent: (name, data) => {
          if (name === "run") {
            this.#run = data.run;
            this.#storage.setItem(runKey(colony), data.run);
          }
          this.#breath.handle(name, data);
        },
      });
      if (!rejoined) this.#prompt.value = "";
      this.#announce("The breath is complete.");
    } catch (error) {
      if (started) this.#breath.interrupt();
      if (!(rejoined && error.status === 404)) this.#fail(error);
    } finally {
      this.#storage.removeItem(runKey(colony));
      this.#run = null;
      this.#setBusy(false);
      if (started) this.#hooks.onBreathed();
    }
  }

  /** Stop: cancel the running breath on the server; its stream then ends with the cancellation. */
  async #stop() {
    if (this.#run === null || this.#colony === null) return;
    this.#stopButton.disabled = true;
    try {
      await this.#api.json("POST", colonyPath(this.#colony, "runs", this.#run, "cancel"));
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error) {
    if (error.type === "Cancelled") {
      this.#error.textContent = "Stopped: what the breath had not committed was rolled back.";
      this.#announce(this.#error.textContent);
      return;
    }
    if (error.status === 429) {
      this.#waitFor(error.retryAfter ?? 1, error.message);
      return;
    }
    const lead = {
      422: "The server did not take that prompt",
      401: "The server needs an API key",
      404: "That colony is not there (any more?)",
    }[error.status] ?? (error.status ? `The breath failed (${error.type})` : "No answer");
    this.#error.textContent = `${lead}: ${error.message}`;
    this.#announce(this.#error.textContent);
  }

  /** 429: the server is busy; the button comes back after `seconds`, counting down meanwhile. */
  #waitFor(seconds, message) {
    this.#waitUntil = Date.now() + seconds * 1000;
    const tell = () => {
      const left = Math.ceil((this.#waitUntil - Date.now()) / 1000);
      if (left > 0) {
        this.#error.textContent = `The server is busy (${message}). Try again in ${left} s.`;
        return;
      }
      clearInterval(this.#countdown);
      this.#countdown = null;
      this.#error.textContent = "The server asked us to wait; you can breathe again now.";
      this.#refresh();
    };
    clearInterval(this.#countdown);
    this.#countdown = setInterval(tell, 250);
    tell();
    this.#refresh();
  }

  #setBusy(busy) {
    this.#busy = busy;
    this.#form.setAttribute("aria-busy", String(busy));
    this.#hooks.onBusy(busy);
    this.#refresh();
  }

  #refresh() {
    this.#send.disabled = this.#busy || this.#colony === null || Date.now() < this.#waitUntil;
    this.#stopButton.hidden = !this.#busy;
    this.#stopButton.disabled = !this.#busy;
  }
}

/** Where a tab keeps the run it is watching in a colony, so a reload can rejoin it. */
function runKey(colony) {
  return `harmonix.run.${colony}`;
}
