/**
 * The generic template: a logic-less Mustache template (`{{field.path}}`, sections over lists; no raw `{{{…}}}`,
 * partials or delimiter changes, and values escaped for the Reply Markdown subset), a field map
 * (`title`, `text`, `link` → dotted paths), or by default the payload's `text`/`message`/`title`, else its JSON.
 */
import Mustache from "mustache";
import { SwitchboardError } from "../../bot/index.ts";
import { esc, link, pick } from "./text.ts";

const MAX_DEPTH = 12;
const MAX_KEYS = 200;
const MAX_ITEMS = 100;
const MAX_STRING = 2_000;

/** Refuse a template that would emit raw values or reach outside the payload. Returns the template. */
export function checkFormat(format: string): string {
  if (format.length > 2_000) throw badFormat("longer than 2,000 characters");
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(format);
  } catch (error) {
    throw badFormat(error instanceof Error ? error.message : "unparsable");
  }
  const walk = (list: unknown[]): void => {
    for (const token of list as Array<[string, string, number, number, unknown[]?]>) {
      const [type] = token;
      if (type === "&" || type === ">" || type === "=")
        throw badFormat("raw values ({{{x}}}, {{&x}}), partials and delimiter changes are not allowed");
      if (Array.isArray(token[4])) walk(token[4]);
    }
  };
  walk(tokens);
  return format;
}

function badFormat(why: string): SwitchboardError {
  return new SwitchboardError("E_BAD_ARGS", `hook format refused: ${why}`, {
    chatMessage: `That template is refused: ${why}.`,
  });
}

/**
 * The payload as a Mustache view: plain data with no prototype (so `{{constructor}}` finds nothing to call),
 * cut in depth, width and string length.
 */
export function viewOf(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_DEPTH) return "…";
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => viewOf(v, depth + 1));
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (n++ >= MAX_KEYS) break;
    out[k] = viewOf(v, depth + 1);
  }
  return out;
}

/** Render a generic payload with the hook's format or map. */
export function renderGeneric(payload: unknown, o: { format?: string; map?: Record<string, string> }): string {
  if (o.format !== undefined) {
    const view = viewOf(payload);
    // A payload that is not an object (null, a number, a list) is a view with nothing to look up.
    const scope = typeof view === "object" && view !== null && !Array.isArray(view) ? view : Object.create(null);
    return Mustache.render(checkFormat(o.format), scope, {}, { escape: (v: unknown) => esc(v, 500) });
  }
  const field = (name: string, fallbacks: string[]): unknown => {
    const path = o.map?.[name];
    if (path !== undefined) return pick(payload, path);
    for (const f of fallbacks) {
      const v = pick(payload, f);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const title = field("title", ["title", "subject"]);
  const text = field("text", ["text", "message", "body", "description"]);
  const url = field("link", ["link", "url"]);
  const lines: string[] = [];
  if (title !== undefined) lines.push(`**${esc(title, 200)}**`);
  if (text !== undefined) lines.push(esc(text, 1_500));
  if (url !== undefined) lines.push(link("link", url));
  if (lines.length > 0) return lines.join("\n");
  let json = "";
  try {
    json = JSON.stringify(viewOf(payload), null, 1).slice(0, 1_500);
  } catch {
    json = "(unprintable payload)";
  }
  return `\`\`\`json\n${json.replace(/`/g, "'")}\n\`\`\``;
}
