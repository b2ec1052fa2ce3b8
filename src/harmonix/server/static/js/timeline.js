// The timeline of a breath: a Gantt bar per organism (and the exhale), on one time axis. HAiKU, Sonnet and Prose
// start together (INHALE), Artist starts when the last of them has ended, the exhale after Artist. While a breath
// runs the bars follow the page's clock; when it is done, the server's own timings replace them.

import { element, replaceChildren, seconds } from "./dom.js";
import { INHALE, titleOf } from "./organisms.js";

const ROWS = [...INHALE, "artist", "exhale"];
const TICK_MS = 100;

/** Bars from a breath's timings (the `done` event's, or a history record's): name -> {start, end}. */
export function barsFromTimings(timings) {
  const bars = new Map();
  for (const name of INHALE) {
    if (timings[name] !== undefined) bars.set(name, { start: 0, end: timings[name] });
  }
  const inhale = timings.inhale ?? Math.max(0, ...INHALE.map((name) => timings[name] ?? 0));
  if (timings.artist !== undefined) bars.set("artist", { start: inhale, end: inhale + timings.artist });
  if (timings.exhale !== undefined && timings.total !== undefined) {
    bars.set("exhale", { start: timings.total - timings.exhale, end: timings.total });
  }
  return bars;
}

/** A static Gantt chart of `bars` (a history record's). */
export function ganttOf(bars) {
  const chart = element("ol", { className: "gantt" });
  drawGantt(chart, bars, { now: 0, live: false });
  return chart;
}

/** Draw `bars` into `chart`. A bar without an end lasts until `clock.now` (seconds): still running when the clock
 * is `live`, else unfinished (the breath ended without it). */
function drawGantt(chart, bars, clock) {
  const span = Math.max(0.001, clock.now, ...[...bars.values()].map((bar) => bar.end ?? 0));
  const rows = ROWS.filter((name) => bars.has(name)).map((name) => ganttRow(name, bars.get(name), clock, span));
  replaceChildren(chart, ...rows);
}

function ganttRow(name, bar, clock, span) {
  const open = bar.end === null || bar.end === undefined;
  const end = open ? clock.now : bar.end;
  const fill = element("span", { className: `gantt-bar bar-${name}${open ? " open" : ""}` });
  fill.style.left = `${(100 * bar.start) / span}%`;
  fill.style.width = `${Math.max(0.5, (100 * (end - bar.start)) / span)}%`;
  let when = `${seconds(bar.start)} to ${seconds(end)}`;
  if (open) when = `from ${seconds(bar.start)}, ${clock.live ? "running" : "unfinished"}`;
  return element("li", { className: "gantt-row", dataset: { row: name, open: String(open) } },
    element("span", { className: "gantt-label" }, name === "exhale" ? "Exhale" : titleOf(name)),
    element("span", { className: "gantt-track", attrs: { "aria-hidden": "true" } }, fill),
    element("span", { className: "gantt-time" }, when));
}

/** The live timeline of the breath in progress (the module's comment). */
export class Timeline {
  #chart;
  #bars = new Map();
  #started = 0;
  #ticking = null;
  #stoppedAt = 0;

  constructor(chart) {
    this.#chart = chart;
  }

  /** A breath starts now: INHALE's three bars start running. */
  start() {
    this.#halt();
    this.#started = performance.now();
    this.#bars = new Map(INHALE.map((name) => [name, { start: 0, end: null }]));
    this.#ticking = setInterval(() => this.#draw(), TICK_MS);
    this.#draw();
  }

  /** `name`'s stage has ended now (by the page's clock); Artist starts when INHALE is over. */
  ended(name) {
    const now = this.#elapsed();
    const bar = this.#bars.get(name) ?? { start: now };
    this.#bars.set(name, { ...bar, end: now });
    if (INHALE.every((inhaled) => this.#bars.get(inhaled)?.end != null) && !this.#bars.has("artist")) {
      this.#bars.set("artist", { start: now, end: null });
    }
    this.#draw();
  }

  /** The breath is done: draw the server's timings, exact, and stop following the clock. */
  finish(timings) {
    this.#halt();
    this.#bars = barsFromTimings(timings);
    this.#draw();
  }

  /** The breath ended without its timings: the bars stay where they were, the open ones marked unfinished. */
  stop() {
    if (this.#ticking === null) return;
    this.#halt();
    this.#stoppedAt = this.#elapsed();
    this.#draw();
  }

  /** No breath: an empty chart. */
  clear() {
    this.#halt();
    this.#bars = new Map();
    this.#draw();
  }

  #halt() {
    if (this.#ticking !== null) clearInterval(this.#ticking);
    this.#ticking = null;
  }

  #elapsed() {
    return (performance.now() - this.#started) / 1000;
  }

  #draw() {
    const live = this.#ticking !== null;
    drawGantt(this.#chart, this.#bars, { now: live ? this.#elapsed() : this.#stoppedAt, live });
  }
}
