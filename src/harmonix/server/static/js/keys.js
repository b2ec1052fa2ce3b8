// The API key. A server started with --api-key-file answers 401 without one; the page then asks for it once and
// keeps it in sessionStorage: it lasts while the tab is open (reloads included) and is gone when the tab closes.

const STORAGE_NAME = "harmonix-api-key";

/** The key, and the dialog that asks for it. */
export class ApiKey {
  #storage;
  #dialog;
  #form;
  #input;
  #reason;
  #asking = null;

  constructor(storage, dialog) {
    this.#storage = storage;
    this.#dialog = dialog;
    this.#form = dialog.querySelector("form");
    this.#input = dialog.querySelector("input");
    this.#reason = dialog.querySelector("[data-reason]");
  }

  /** The key to send, or null when there is none. */
  current() {
    return this.#storage.getItem(STORAGE_NAME);
  }

  /** Ask for a key because the server refused the last one (`reason`, its message). Resolves with the new key, or
   * null if the person closed the dialog. Requests that are refused while the dialog is open share its answer. */
  ask(reason) {
    if (this.#asking === null) {
      this.#asking = this.#askOnce(reason).finally(() => {
        this.#asking = null;
      });
    }
    return this.#asking;
  }

  #askOnce(reason) {
    this.#reason.textContent = this.current() ? `The server refused the key: ${reason}` : reason;
    this.#input.value = "";
    return new Promise((resolve) => {
      const submitted = (event) => {
        event.preventDefault();
        const key = this.#input.value.trim();
        if (!key) return;
        this.#storage.setItem(STORAGE_NAME, key);
        finish(key);
      };
      const closed = () => finish(null);
      const finish = (key) => {
        this.#form.removeEventListener("submit", submitted);
        this.#dialog.removeEventListener("close", closed);
        if (this.#dialog.open) this.#dialog.close();
        resolve(key);
      };
      this.#form.addEventListener("submit", submitted);
      this.#dialog.addEventListener("close", closed);
      this.#dialog.showModal();
      this.#input.focus();
    });
  }
}
