import { defaultPathFilters, maskSecrets, type Parameters, type PathFilterRule } from "./Parameters.js";
import { parameterFields } from "./parameterFields.js";

/** Options of {@link formatParametersXml} and {@link formatParametersText}. */
export interface FormatParametersOptions {
  /** Write secrets as they are instead of `***` (only to write a config file the user asked for). Default false. */
  readonly revealSecrets?: boolean;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * The path filters to write and whether they replace the defaults: when the list ends with the 22 defaults, only
 * the rules before them are written (the loader adds the defaults back); otherwise the whole list, with
 * `ReplaceDefaults="true"`.
 */
function ownPathFilters(rules: readonly PathFilterRule[]): { rules: readonly PathFilterRule[]; replaceDefaults: boolean } {
  const defaults = defaultPathFilters();
  const tail = rules.slice(rules.length - defaults.length);
  const same =
    tail.length === defaults.length &&
    tail.every((r, i) => {
      const d = defaults[i]!;
      return r.type === d.type && r.value === d.value && r.action === d.action;
    });
  return same ? { rules: rules.slice(0, rules.length - defaults.length), replaceDefaults: false } : { rules, replaceDefaults: true };
}

/**
 * A complete `OperatingParameters` XML document holding every setting (DQD's elements first, in DQD's order, then
 * ours), which {@link parseXmlParameters} reads back to the same parameters. Secrets are written as `***` unless
 * `revealSecrets` is set. `S3ForcePathStyle` is left out while unset (automatic).
 */
export function formatParametersXml(parameters: Parameters, options: FormatParametersOptions = {}): string {
  const p = options.revealSecrets ? parameters : maskSecrets(parameters);
  const out = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<OperatingParameters xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">',
  ];
  const write = (field: (typeof parameterFields)[number]) => {
    const value = p[field.key];
    if (value === undefined) return;
    if (field.list) {
      const items = value as unknown[];
      if (items.length === 0) out.push(`  <${field.element} />`);
      else {
        out.push(`  <${field.element}>`);
        for (const item of items) out.push(`    <string>${escapeXml(field.kind.toText(item))}</string>`);
        out.push(`  </${field.element}>`);
      }
      return;
    }
    const text = field.kind.toText(value);
    out.push(text === "" ? `  <${field.element} />` : `  <${field.element}>${escapeXml(text)}</${field.element}>`);
  };
  for (const field of parameterFields) {
    if (!field.dqd) continue;
    write(field);
    if (field.key === "enableFileAccessNotify") {
      const { rules, replaceDefaults } = ownPathFilters(p.pathFilters);
      const open = `  <PathFilters${replaceDefaults ? ' ReplaceDefaults="true"' : ""}`;
      if (rules.length === 0) out.push(`${open} />`);
      else {
        out.push(`${open}>`);
        for (const r of rules) {
          out.push(`    <PathFilter Type="${r.type}" Value="${escapeXml(r.value)}" Action="${r.action}" />`);
        }
        out.push("  </PathFilters>");
      }
    }
  }
  for (const field of parameterFields) if (!field.dqd) write(field);
  out.push("</OperatingParameters>", "");
  return out.join("\n");
}

/**
 * The parameters as aligned `Element  value` lines for people (XML element names, durations as xs:durations
 * with milliseconds, one line per path filter in evaluation order). Secrets are shown as `***` unless
 * `revealSecrets` is set.
 */
export function formatParametersText(parameters: Parameters, options: FormatParametersOptions = {}): string {
  const p = options.revealSecrets ? parameters : maskSecrets(parameters);
  const rows: [string, string][] = [];
  for (const field of parameterFields) {
    const value = p[field.key];
    let text: string;
    if (value === undefined) text = "(automatic)";
    else if (field.list) text = (value as unknown[]).length === 0 ? "(none)" : (value as unknown[]).map((v) => field.kind.toText(v)).join(", ");
    else {
      text = field.kind.toText(value);
      if (typeof value === "number" && text.startsWith("P")) text = `${text} (${value} ms)`;
      if (text === "") text = '""';
    }
    rows.push([field.element, text]);
    if (field.key === "enableFileAccessNotify") {
      rows.push(["PathFilters", `${p.pathFilters.length} rules, first match wins:`]);
      for (const r of p.pathFilters) rows.push(["", `${r.action.padEnd(7)} ${r.type.padEnd(17)} ${r.value}`]);
    }
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => `${name.padEnd(width)}  ${text}`).join("\n") + "\n";
}
