// The fields, per organism, over its turns: dissonance and temperature, the field's size (its own texts, its
// trigram types) and Sonnet's phase. Read from GET /v1/colonies/{id}/fields/{organism} after every breath.

import { colonyPath } from "./api.js";
import { element, replaceChildren } from "./dom.js";
import { lineChart, roundUp } from "./charts.js";
import { ORGANISMS } from "./organisms.js";

const TURNS = 50;
const PHASES = ["crystalline", "liquid", "vapour", "plasma"];

/** The cards of every organism's field, drawn again for each colony and after each breath. */
export class FieldsView {
  #container;
  #api;
  #shown = 0;

  constructor(container, api) {
    this.#container = container;
    this.#api = api;
  }

  /** Draw colony `colony`'s fields (null: none). A later call wins over an earlier one still loading. */
  async show(colony) {
    const request = ++this.#shown;
    if (colony === null) {
      replaceChildren(this.#container);
      return;
    }
    const views = await Promise.all(ORGANISMS.map(({ name }) =>
      this.#api.json("GET", `${colonyPath(colony, "fields", name)}?limit=${TURNS}`).catch((error) => ({ error }))));
    if (request !== this.#shown) return;
    replaceChildren(this.#container, ...ORGANISMS.map((organism, index) => fieldCard(organism, views[index])));
  }
}

function fieldCard({ name, title }, view) {
  const heading = element("h3", { id: `field-${name}-title` }, title);
  const card = element("section", { className: "field-card", dataset: { field: name },
    attrs: { "aria-labelledby": heading.id } }, heading);
  if (view.error) {
    card.append(element("p", { className: "error" }, `Could not read the field: ${view.error.message}`));
    return card;
  }
  const turns = [...view.turns].reverse();
  const firstTurn = Math.max(1, (view.stats?.counts?.turns ?? turns.length) - turns.length + 1);
  card.append(element("p", { className: "field-summary" }, summaryOf(view.stats, turns)));
  card.append(figure("Dissonance and temperature", observerChart(title, turns, firstTurn),
    legend([["dissonance", "dissonance"], ["temperature", "temperature"]])));
  card.append(figure("Own texts in the field", sizeChart(title, turns, firstTurn, "texts", "own texts")));
  card.append(figure("Trigram types in the field", sizeChart(title, turns, firstTurn, "trigram_types", "trigram types")));
  if (name === "sonnet") card.append(figure("Phase", phaseChart(turns, firstTurn)));
  return card;
}

function summaryOf(stats, turns) {
  const counts = stats?.counts ?? {};
  const total = counts.turns ?? turns.length;
  return `${total} ${total === 1 ? "turn" : "turns"} · ${counts.texts ?? 0} texts · ${counts.trigram_types ?? 0} trigram types`;
}

function figure(caption, chart, ...after) {
  return element("figure", { className: "field-figure" }, element("figcaption", {}, caption), chart, ...after);
}

function legend(entries) {
  return element("ul", { className: "chart-legend" }, ...entries.map(([className, label]) =>
    element("li", {}, element("span", { className: `swatch line-${className}`, attrs: { "aria-hidden": "true" } }),
      label)));
}

function latest(values, format) {
  const known = values.filter((value) => value !== null && value !== undefined);
  return known.length ? format(known[known.length - 1]) : "none yet";
}

function observerChart(title, turns, firstTurn) {
  const dissonance = turns.map((turn) => turn.dissonance);
  const temperature = turns.map((turn) => turn.temperature);
  const high = Math.max(1, ...temperature.filter((value) => value !== null));
  const top = Math.ceil(high * 2) / 2;
  return lineChart({
    series: [{ values: dissonance, className: "line-dissonance" }, { values: temperature, className: "line-temperature" }],
    domain: [0, top], ticks: [0, top / 2, top], format: (value) => String(Number(value.toFixed(2))), firstTurn,
    summary: `${title} over ${turns.length} turns: latest dissonance ${latest(dissonance, (v) => v.toFixed(2))}, ` +
      `latest temperature ${latest(temperature, (v) => v.toFixed(2))}`,
  });
}

function sizeChart(title, turns, firstTurn, size, label) {
  const values = turns.map((turn) => turn.sizes?.[size] ?? null);
  const top = roundUp(Math.max(0, ...values.filter((value) => value !== null)));
  return lineChart({
    series: [{ values, className: "line-size" }], domain: [0, top], ticks: [0, top], firstTurn,
    summary: `${title}: ${label} as each turn saw the field, latest ${latest(values, String)}`,
  });
}

function phaseChart(turns, firstTurn) {
  const names = turns.map((turn) => turn.metrics?.phase ?? null);
  const values = names.map((phase) => (PHASES.includes(phase) ? PHASES.indexOf(phase) : null));
  return lineChart({
    series: [{ values, className: "line-phase" }], domain: [0, PHASES.length - 1], step: true, padLeft: 62,
    ticks: PHASES.map((_, index) => index), format: (index) => PHASES[index], firstTurn,
    summary: `Sonnet's phase over ${turns.length} turns, latest ${latest(names, String)}`,
  });
}
