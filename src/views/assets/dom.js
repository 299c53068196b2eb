// DOM helpers shared by the status pages (plain ES modules, no build step).

export const $ = (id) => document.getElementById(id);

/** An element with attributes and children (nodes or text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}
