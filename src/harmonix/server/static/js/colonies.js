// Choosing a colony, or creating one. The chosen colony is in the page's address (#colony=NAME), so a reload (or
// a link) comes back to it.

import { element, replaceChildren } from "./dom.js";

/** The colony chooser and the form that creates one; `onChange(colony)` hears each choice (null: none). */
export class ColonyPicker {
  #select;
  #form;
  #name;
  #create;
  #message;
  #api;
  #onChange;

  constructor({ select, form, name, create, message }, api, onChange) {
    this.#select = select;
    this.#form = form;
    this.#name = name;
    this.#create = create;
    this.#message = message;
    this.#api = api;
    this.#onChange = onChange;
    this.#select.addEventListener("change", () => this.#choose(this.#select.value));
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#createColony();
    });
  }

  /** List the colonies and choose the one in the address, else the newest. */
  async load() {
    try {
      const { colonies } = await this.#api.json("GET", "/v1/colonies");
      const wanted = new URLSearchParams(window.location.hash.slice(1)).get("colony");
      const names = colonies.sort((a, b) => b.created - a.created).map((colony) => colony.id);
      this.#fill(names);
      this.#choose(names.includes(wanted) ? wanted : names[0] ?? null);
    } catch (error) {
      this.#message.textContent = `Could not list the colonies: ${error.message} (reload the page to try again)`;
      this.#choose(null);
    }
  }

  /** While a breath runs the colony stays as it is. */
  setEnabled(enabled) {
    for (const control of [this.#select, this.#name, this.#create]) control.disabled = !enabled;
  }

  #fill(names) {
    if (!names.length) {
      replaceChildren(this.#select, element("option", { value: "", disabled: true, selected: true },
        "no colony yet: create one"));
      return;
    }
    replaceChildren(this.#select, ...names.map((name) => element("option", { value: name }, name)));
  }

  #choose(colony) {
    if (colony) this.#select.value = colony;
    const address = new URL(window.location.href);
    address.hash = colony ? `colony=${encodeURIComponent(colony)}` : "";
    window.history.replaceState(null, "", address);
    this.#onChange(colony || null);
  }

  async #createColony() {
    const name = this.#name.value.trim();
    this.#message.textContent = "";
    try {
      const created = await this.#api.json("POST", "/v1/colonies", name ? { name } : {});
      const names = [...this.#select.options].map((option) => option.value).filter(Boolean);
      this.#fill([created.id, ...names]);
      this.#name.value = "";
      this.#message.textContent = `Created colony ${created.id}.`;
      this.#choose(created.id);
    } catch (error) {
      this.#message.textContent = `Could not create the colony: ${error.message}`;
    }
  }
}
