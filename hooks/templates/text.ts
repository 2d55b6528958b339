/**
 * Building blocks of rendered hook messages. Every value from a payload is hostile: it goes in through `esc`
 * (one line, cut to a length, every Markdown marker of the Reply subset escaped), links only through `link`
 * (http and https only, and nothing that could close the link early).
 */

const MARKERS = /[\\`*_[\]()~|#>-]/g;

/** Text from a payload made inert: one line, at most `max` characters, Markdown markers escaped. */
export function esc(value: unknown, max = 200): string {
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : scalar(value);
  const line = text.replace(/[\r\n\t]+/g, " ").trim();
  const cut = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return cut.replace(MARKERS, (m) => `\\${m}`);
}

function scalar(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  try {
    return JSON.stringify(value)?.slice(0, 2_000) ?? "";
  } catch {
    return "";
  }
}

/** A safe link URL (http or https, at most 2,000 characters), or undefined. */
export function safeUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 2_000) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.href.replace(/[()\s<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  } catch {
    return undefined;
  }
}

/** `[label](url)` when the URL is safe, else the label alone. The label is escaped here. */
export function link(label: unknown, url: unknown): string {
  const href = safeUrl(url);
  const text = esc(label, 120);
  return href === undefined ? text : `[${text}](${href})`;
}

/** A dotted path in a payload (`alerts.0.labels.severity`), own properties only. */
export function pick(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const part of path.split(".")) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** A plain object's own entries, or none. */
export function entriesOf(value: unknown): Array<[string, unknown]> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? Object.entries(value) : [];
}

/** An array, or empty. */
export function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `key=value, …` of a label set (at most `max` labels), escaped. */
export function labels(value: unknown, max = 8): string {
  const pairs = entriesOf(value).filter(([, v]) => typeof v === "string");
  const shown = pairs.slice(0, max).map(([k, v]) => `${esc(k, 40)}=${esc(v, 80)}`);
  return pairs.length > max ? `${shown.join(", ")}, …` : shown.join(", ");
}

/** Lines of a list, cut to `max` items with a closing "… and N more". */
export function capped(lines: string[], max: number): string[] {
  return lines.length <= max ? lines : [...lines.slice(0, max), `- … and ${lines.length - max} more`];
}
