// Talking: the prompt box and one breath at a time. Enter sends, Shift+Enter starts a new line; the button is off
// while a breath runs. Whatever happens (a bad prompt, a busy server, a lost connection) ends with a message next to
// the box and the box ready again: after 429 once the server's Retry-After has passed.

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
  #busy = false;
  #waitUntil = 0;
  #countdown = null;

  constructor({ form, prompt, send, error }, api, breath, announce, hooks) {
    this.#form = form;
    this.#prompt = prompt;
    this.#send = send;
    this.#error = error;
    this.#api = api;
    this.#breath = breath;
    this.#announce = announce;
    this.#hooks = hooks;
    this.#prompt.addEventListener("keydown", (event) => this.#keydown(event));
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#breathe();
    });
    this.#refresh();
  }

  /** Breathe in colony `colony` from now on (null: no colony, nothing to send to). */
  setColony(colony) {
    this.#colony = colony;
    this.#error.textContent = colony ? "" : "Create a colony to begin.";
    this.#refresh();
  }

  #keydown(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    this.#form.requestSubmit();
  }

  async #breathe() {
    if (this.#busy || this.#colony === null || Date.now() < this.#waitUntil) return;
    this.#setBusy(true);
    this.#error.textContent = "";
    this.#announce("Breathing…");
    let started = false;
    try {
      await this.#api.stream(colonyPath(this.#colony, "cascades"), { prompt: this.#prompt.value }, {
        onOpen: () => {
          started = true;
          this.#breath.start();
        },
        onEvent: (name, data) => this.#breath.handle(name, data),
      });
      this.#prompt.value = "";
      this.#announce("The breath is complete.");
    } catch (error) {
      if (started) this.#breath.interrupt();
      this.#fail(error);
    } finally {
      this.#setBusy(false);
      if (started) this.#hooks.onBreathed();
    }
  }

  #fail(error) {
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
  }
}
