// The HTTP API, as the page uses it: JSON requests, a breath's event stream, and the errors of both as ApiError.
// The page talks to the server only through these routes, like any other client.

import { EventStreamParser } from "./sse.js";

/** A request that did not succeed: the HTTP status (0 when no answer came), the error's type and message as the
 * server wrote them, and for 429 the seconds the server asks us to wait (Retry-After). */
export class ApiError extends Error {
  constructor(status, type, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
  }
}

const LOST = "The connection to the server was lost during the breath; what arrived is shown, the rest was rolled back.";
const UNREACHABLE = "The server cannot be reached. Is harmonix serve still running?";

/** The API of the server that served the page. `key` holds the API key and asks for one when the server answers
 * 401 (see keys.js); the request is then sent again with it. */
export class Api {
  #key;

  constructor(key) {
    this.#key = key;
  }

  /** A JSON request; resolves with the answer's document (null for 204), or throws ApiError. */
  async json(method, path, body = undefined) {
    const response = await this.#send(method, path, body, "application/json");
    return response.status === 204 ? null : response.json();
  }

  /** A breath: POST `body` to `path` asking for its events; `onOpen()` when the server has taken the request,
   * then `onEvent(name, data)` for each event as it arrives. Resolves after `done`; throws ApiError for a refused
   * request, an `error` event, or a stream that ended before either (the connection was lost). */
  async stream(path, body, handlers) {
    return this.#events("POST", path, body, handlers);
  }

  /** Rejoin a run: GET its event stream at `path` (every event from the first), as `stream` does. */
  async follow(path, handlers) {
    return this.#events("GET", path, undefined, handlers);
  }

  async #events(method, path, body, { onOpen, onEvent }) {
    const response = await this.#send(method, path, body, "text/event-stream");
    onOpen();
    const chunks = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new EventStreamParser();
    for (;;) {
      const chunk = await readOrLost(chunks);
      if (chunk === null) throw new ApiError(0, "ConnectionLost", LOST);
      for (const { event, data } of parser.push(chunk)) {
        const document = JSON.parse(data);
        if (event === "error") throw new ApiError(document.status ?? 500, document.error.type, document.error.message);
        onEvent(event, document);
        if (event === "done") {
          chunks.cancel().catch(() => {});
          return;
        }
      }
    }
  }

  async #send(method, path, body, accept) {
    for (;;) {
      const response = await this.#fetch(method, path, body, accept);
      if (response.ok) return response;
      const error = await errorOf(response);
      if (response.status !== 401 || (await this.#key.ask(error.message)) === null) throw error;
    }
  }

  async #fetch(method, path, body, accept) {
    const headers = { accept };
    if (body !== undefined) headers["content-type"] = "application/json";
    const key = this.#key.current();
    if (key) headers.authorization = `Bearer ${key}`;
    try {
      return await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "Unreachable", UNREACHABLE);
    }
  }
}

/** A colony's path under /v1/colonies. */
export function colonyPath(colony, ...rest) {
  return ["/v1/colonies", encodeURIComponent(colony), ...rest].join("/");
}

async function readOrLost(reader) {
  try {
    const { value, done } = await reader.read();
    return done ? null : value;
  } catch {
    return null;
  }
}

async function errorOf(response) {
  let type = `HTTP ${response.status}`;
  let message = response.statusText || "the server refused the request";
  try {
    const document = await response.json();
    if (document && document.error) ({ type, message } = document.error);
  } catch {
    // not JSON: the status says what there is to say
  }
  const retryAfter = Number.parseFloat(response.headers.get("retry-after") ?? "");
  return new ApiError(response.status, type, message, Number.isFinite(retryAfter) ? retryAfter : null);
}
