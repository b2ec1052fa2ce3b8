// Small line charts over turns, in plain SVG. A few lines per chart and a few dozen points each need no charting
// library: this file is the whole of it.

import { svgElement } from "./dom.js";

const WIDTH = 300;
const HEIGHT = 112;
const PAD = { top: 8, right: 10, bottom: 20 };
const MAX_DOTS = 30;

/** A chart of `series` ([{label, values, className}], values oldest turn first, null where a turn has none),
 * described by `summary` for screen readers. `domain` [low, high] and `ticks` (y values to label, written by
 * `format`) set the y axis; `step` draws steps (a state that holds until it changes) instead of lines;
 * `padLeft` leaves room for long tick labels; `firstTurn` numbers the first point's turn. */
export function lineChart({ series, summary, domain, ticks, format = String, step = false, padLeft = 34, firstTurn = 1 }) {
  const turns = Math.max(0, ...series.map((line) => line.values.length));
  const area = { left: padLeft, right: WIDTH - PAD.right, top: PAD.top, bottom: HEIGHT - PAD.bottom };
  const x = (index) => (turns <= 1 ? (area.left + area.right) / 2
    : area.left + (index * (area.right - area.left)) / (turns - 1));
  const y = (value) => area.bottom - ((value - domain[0]) * (area.bottom - area.top)) / (domain[1] - domain[0] || 1);
  const chart = svgElement("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-label": summary,
  });
  chart.append(...ticks.flatMap((tick) => yTick(tick, y(tick), area, format)));
  chart.append(...xLabels(turns, firstTurn, x, area));
  for (const line of series) chart.append(...drawSeries(line, x, y, step));
  return chart;
}

/** A y value near `value` that is round: 1, 2 or 5 times a power of ten, at least `value`. */
export function roundUp(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value - 1e-9);
}

function yTick(tick, at, area, format) {
  return [
    svgElement("line", { x1: area.left, x2: area.right, y1: at, y2: at, class: "grid" }),
    svgElement("text", { x: area.left - 4, y: at + 3.5, class: "tick", "text-anchor": "end" }, format(tick)),
  ];
}

function xLabels(turns, firstTurn, x, area) {
  if (turns === 0) {
    return [svgElement("text", { x: (area.left + area.right) / 2, y: (area.top + area.bottom) / 2,
      class: "tick", "text-anchor": "middle" }, "no turns yet")];
  }
  const below = area.bottom + 14;
  const first = svgElement("text", { x: x(0), y: below, class: "tick", "text-anchor": turns === 1 ? "middle" : "start" },
    `turn ${firstTurn}`);
  if (turns === 1) return [first];
  const last = svgElement("text", { x: x(turns - 1), y: below, class: "tick", "text-anchor": "end" },
    `turn ${firstTurn + turns - 1}`);
  return [first, last];
}

function drawSeries(line, x, y, step) {
  const points = line.values.map((value, index) => (value === null || value === undefined ? null : [x(index), y(value)]));
  const drawn = [svgElement("path", { d: pathOf(points, step), class: `series ${line.className}` })];
  if (points.length <= MAX_DOTS) {
    for (const point of points) {
      if (point) drawn.push(svgElement("circle", { cx: point[0], cy: point[1], r: 2.2, class: `dot ${line.className}` }));
    }
  }
  return drawn;
}

/** An SVG path through `points` (null: a gap), straight or in steps. */
function pathOf(points, step) {
  let path = "";
  let previous = null;
  for (const point of points) {
    if (point === null) {
      previous = null;
      continue;
    }
    if (previous === null) path += `M${point[0].toFixed(1)},${point[1].toFixed(1)}`;
    else if (step) path += `H${point[0].toFixed(1)}V${point[1].toFixed(1)}`;
    else path += `L${point[0].toFixed(1)},${point[1].toFixed(1)}`;
    previous = point;
  }
  return path || "M0,0";
}
