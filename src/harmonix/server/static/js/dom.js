// Building elements. Every text goes in as a text node (textContent), never as HTML: a string from a field or a
// prompt is shown exactly as it is written, and nothing in it can run.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element: `element("p", {className: "hint"}, "some text", child)`. Props are set as properties
 * (className, id, type, hidden …); `dataset` and `attrs` take objects; children are nodes or strings. */
export function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  node.append(...children.filter((child) => child !== null && child !== undefined).map(asNode));
  return node;
}

/** An SVG element with attributes (SVG has no properties to set): `svgElement("line", {x1: 0, …})`. */
export function svgElement(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.map(asNode));
  return node;
}

/** Replace everything inside `node` with `children`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren(...children.map(asNode));
}

function asNode(child) {
  return typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child;
}

function setProps(node, props) {
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "attrs") for (const [attr, text] of Object.entries(value)) node.setAttribute(attr, text);
    else node[name] = value;
  }
}

/** Seconds for people: "0.42 s", "3.1 s", "12 s". */
export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value < 1) return `${value.toFixed(2)} s`;
  return value < 10 ? `${value.toFixed(1)} s` : `${Math.round(value)} s`;
}
