// Server-Sent Events from a fetch body. EventSource cannot POST, and a breath is a POST, so the page reads the
// stream itself and parses the text/event-stream format here.

/** Turns chunks of an event stream into events `{event, data, id}`. Lines end with LF or CRLF; chunks may end anywhere, even inside a line;
 * what is incomplete waits for the next chunk. Comment lines (": ping") are ignored. */
export class EventStreamParser {
  #pending = "";
  #event = emptyEvent();

  /** The events completed by `chunk`. */
  push(chunk) {
    this.#pending += chunk;
    const lines = this.#pending.split("\n");
    this.#pending = lines.pop();
    const events = [];
    for (const line of lines) {
      const complete = this.#line(line.endsWith("\r") ? line.slice(0, -1) : line);
      if (complete) events.push(complete);
    }
    return events;
  }

  #line(line) {
    if (line === "") {
      const event = this.#event;
      this.#event = emptyEvent();
      return event.data.length ? { event: event.event, data: event.data.join("\n"), id: event.id } : null;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.#event.event = value;
    else if (field === "data") this.#event.data.push(value);
    else if (field === "id") this.#event.id = value;
    return null;
  }
}

function emptyEvent() {
  return { event: "message", data: [], id: null };
}
