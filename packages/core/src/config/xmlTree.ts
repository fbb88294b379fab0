import { XMLParser, XMLValidator } from "fast-xml-parser";

/** One element of a parsed XML document, with the line numbers of its start tag and of each attribute. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly attributeLines: ReadonlyMap<string, number>;
  readonly children: readonly XmlElement[];
  /** The element's own text (entities decoded, CDATA included, trimmed). */
  readonly text: string;
  /** 1-based line of the start tag, when it could be located. */
  readonly line: number | undefined;
}

/** A malformed document: where, and fast-xml-parser's (or our) description. */
export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
  ) {
    super(message);
  }
}

interface StartTag {
  readonly name: string;
  readonly line: number;
  readonly attributeLines: Map<string, number>;
}

/**
 * Parses a whole document into its top-level elements (a well-formed document has exactly one). Throws
 * {@link XmlSyntaxError} for malformed XML and for a DOCTYPE (never needed by a configuration file, and a way to
 * expand entities without bound). fast-xml-parser validates and parses; it does not report where elements are, so
 * start tags are also scanned here, in document order, and matched to the parsed elements by order and name.
 */
export function readXmlTree(text: string): XmlElement[] {
  const lines = lineStarts(text);
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype) throw new XmlSyntaxError("a DOCTYPE is not allowed", lineAt(lines, doctype.index), undefined);
  const verdict = XMLValidator.validate(text);
  if (verdict !== true) throw new XmlSyntaxError(verdict.err.msg, verdict.err.line, verdict.err.col);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseTagValue: false,
    parseAttributeValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    trimValues: true,
    htmlEntities: true,
  });
  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(text) as OrderedNode[];
  } catch (err) {
    // The validator accepts a few names the parser then refuses (`__proto__`): still a malformed document to us.
    throw new XmlSyntaxError(err instanceof Error ? err.message : String(err), undefined, undefined);
  }
  const tags = scanStartTags(text, lines);
  let cursor = 0;
  const convert = (node: OrderedNode): XmlElement => {
    const name = Object.keys(node).find((k) => k !== ":@")!;
    let tag: StartTag | undefined;
    for (let at = cursor; at < tags.length; at++) {
      if (tags[at]!.name === name) {
        tag = tags[at];
        cursor = at + 1;
        break;
      }
    }
    const content = (node[name] ?? []) as OrderedNode[];
    const children: XmlElement[] = [];
    let ownText = "";
    for (const child of content) {
      if ("#text" in child) ownText += String(child["#text"]);
      else children.push(convert(child));
    }
    const attributes = (node[":@"] ?? {}) as Record<string, string>;
    return {
      name,
      attributes,
      attributeLines: tag?.attributeLines ?? new Map(),
      children,
      text: ownText,
      line: tag?.line,
    };
  };
  return nodes.filter((n) => !("#text" in n)).map(convert);
}

type OrderedNode = Record<string, unknown>;

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function lineAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

// Start tags in document order, skipping comments, CDATA, processing instructions and end tags. Only called on a
// document the validator accepted, so the structure can be trusted.
function scanStartTags(text: string, lines: readonly number[]): StartTag[] {
  const tags: StartTag[] = [];
  let i = 0;
  const skipTo = (marker: string, from: number) => {
    const end = text.indexOf(marker, from);
    return end < 0 ? text.length : end + marker.length;
  };
  while ((i = text.indexOf("<", i)) >= 0) {
    if (text.startsWith("<!--", i)) i = skipTo("-->", i + 4);
    else if (text.startsWith("<![CDATA[", i)) i = skipTo("]]>", i + 9);
    else if (text.startsWith("<?", i)) i = skipTo("?>", i + 2);
    else if (text.startsWith("</", i) || text.startsWith("<!", i)) i = skipTo(">", i + 2);
    else {
      const nameMatch = /^<([^\s/>]+)/.exec(text.slice(i, i + 256));
      const name = nameMatch?.[1] ?? "";
      const tag: StartTag = { name, line: lineAt(lines, i), attributeLines: new Map() };
      let j = i + 1 + name.length;
      while (j < text.length && text[j] !== ">") {
        const ch = text[j]!;
        if (ch === '"' || ch === "'") {
          j = text.indexOf(ch, j + 1) + 1 || text.length;
        } else if (/[^\s/=]/.test(ch)) {
          const attr = /^[^\s=/>]+/.exec(text.slice(j, j + 256))?.[0] ?? ch;
          if (!tag.attributeLines.has(attr)) tag.attributeLines.set(attr, lineAt(lines, j));
          j += attr.length;
        } else j++;
      }
      tags.push(tag);
      i = j + 1;
    }
  }
  return tags;
}
