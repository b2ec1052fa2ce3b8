// The organisms as the page names them, in the order it shows them, and the sources of Artist's piece.

/** The four panels, left to right: HAiKU, Sonnet and Prose breathe in together, then Artist weaves them. */
export const ORGANISMS = [
  { name: "haiku", title: "HAiKU" },
  { name: "sonnet", title: "Sonnet" },
  { name: "prose", title: "Prose" },
  { name: "artist", title: "Artist" },
];

/** The organisms that answer the prompt in parallel (INHALE); Artist comes after them. */
export const INHALE = ["haiku", "sonnet", "prose"];

/** Artist's piece, span by span, comes from one of these; the legend names them in this order. */
export const SOURCES = [
  { name: "haiku", label: "HAiKU" },
  { name: "sonnet", label: "Sonnet" },
  { name: "prose", label: "Prose" },
  { name: "artist", label: "Artist's own lines" },
];

const TITLES = new Map(ORGANISMS.map(({ name, title }) => [name, title]));

/** The title of an organism (or of anything else, as it is). */
export function titleOf(name) {
  return TITLES.get(name) ?? name;
}
