/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

function elementName(key: string): string {
  const name = key.charAt(0).toUpperCase() + key.slice(1);
  return /^[A-Za-z_][\w.-]*$/.test(name) ? name : "Value";
}

function singular(name: string): string {
  if (name.endsWith("ies")) return `${name.slice(0, -3)}y`;
  if (name.endsWith("s") && name.length > 1) return name.slice(0, -1);
  return "Item";
}

/**
 * Renders a JSON value as an XML element in the style of DQD's console output: keys become PascalCase child
 * elements, arrays repeat a singular child (`Uploads` → `Upload`), undefined and null are left out.
 */
export function toXml(name: string, value: unknown, indent = "  ", attributes: Record<string, string> = {}): string {
  const attrs = Object.entries(attributes)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join("");
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) {
    const child = singular(name);
    const inner = value.map((v) => toXml(child, v, `${indent}  `)).join("");
    return inner ? `${indent}<${name}${attrs}>\n${inner}${indent}</${name}>\n` : `${indent}<${name}${attrs} />\n`;
  }
  if (typeof value === "object") {
    const inner = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => toXml(elementName(k), v, `${indent}  `))
      .join("");
    return inner ? `${indent}<${name}${attrs}>\n${inner}${indent}</${name}>\n` : `${indent}<${name}${attrs} />\n`;
  }
  return `${indent}<${name}${attrs}>${escapeXml(String(value))}</${name}>\n`;
}
