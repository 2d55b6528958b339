/**
 * The Reply Markdown subset as tokens: `**bold**`, `_italic_`, `` `code` ``, fenced code blocks, `[label](url)` and
 * `- ` list lines. Parsing yields blocks of styled segments; each platform renders them with a `MarkdownDialect`.
 * Splitting (split.ts) works on the same tokens, so formatting is closed and reopened at every cut.
 */

/** A run of text with the styles that apply to it. `code` text is never styled further. */
export interface Segment {
  text: string;
  bold?: boolean;
  italic?: boolean;
  code?: boolean;
  /** The target when the run is (part of) a link label. */
  link?: string;
}

/** One block: a text line, a `- ` list item, or a fenced code block. A line with no segments is a blank line. */
export type MdBlock =
  | { kind: "line"; segments: Segment[] }
  | { kind: "item"; segments: Segment[] }
  | { kind: "code"; lang: string; text: string };

/** How a platform writes the subset. Every function gets already-rendered inner text except where noted. */
export interface MarkdownDialect {
  readonly name: string;
  /** Escape plain text so none of it reads as markup. */
  escape(text: string): string;
  bold(inner: string): string;
  italic(inner: string): string;
  /** Inline code; gets the raw text (the dialect escapes what it must). */
  code(text: string): string;
  link(inner: string, url: string): string;
  /** A fenced block; gets the raw text. */
  codeBlock(text: string, lang: string): string;
  listItem(inner: string): string;
  /** Length as the platform counts it (default: the rendered string's length); never more than that length. */
  measure?(rendered: string): number;
}

const LINK_SCHEMES = /^(https?:\/\/|mailto:|tg:\/\/)/i;
const ESCAPABLE = /[\\`*_[\]()#+\-.!>~|{}]/;
const INLINE_SPECIALS = /[\\`*_[]/;

/** Parse Reply Markdown into blocks. Unmatched markers stay literal text; nothing is ever dropped. */
export function parseMarkdown(source: string): MdBlock[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: MdBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = line.includes("```") ? /^\s*```([\w+.-]*)\s*$/.exec(line) : null;
    if (fence !== null) {
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!);
      blocks.push({ kind: "code", lang: fence[1] ?? "", text: body.join("\n") });
      i = j; // skips the closing fence (or runs to the end when unclosed)
      continue;
    }
    const item = line.includes("- ") ? /^\s*- (.*)$/.exec(line) : null;
    if (item !== null) blocks.push({ kind: "item", segments: parseInline(item[1]!) });
    else blocks.push({ kind: "line", segments: parseInline(line) });
  }
  return blocks;
}

/** Blocks for text sent verbatim (`format: "plain"`): every line is plain text, escaped on render. */
export function parsePlain(source: string): MdBlock[] {
  return source.replace(/\r\n?/g, "\n").split("\n").map((text) => ({ kind: "line", segments: text === "" ? [] : [{ text }] }));
}

/** Parse one line's inline markup into styled segments. */
export function parseInline(text: string): Segment[] {
  if (text === "") return [];
  if (!INLINE_SPECIALS.test(text)) return [{ text }];
  const out: Segment[] = [];
  parseInto(text, {}, out);
  return mergeSegments(out);
}

type Style = Omit<Segment, "text">;

function parseInto(text: string, style: Style, out: Segment[]): void {
  let plain = "";
  const flush = () => {
    if (plain !== "") out.push({ ...style, text: plain });
    plain = "";
  };
  let i = 0;
  const specials = new RegExp(INLINE_SPECIALS.source, "g");
  while (i < text.length) {
    specials.lastIndex = i;
    const next = specials.exec(text)?.index ?? text.length;
    if (next > i) {
      plain += text.slice(i, next);
      i = next;
      continue;
    }
    const ch = text[i]!;
    if (ch === "\\" && i + 1 < text.length && ESCAPABLE.test(text[i + 1]!)) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) {
        flush();
        out.push({ ...style, text: text.slice(i + 1, end), code: true });
        i = end + 1;
        continue;
      }
    }
    if (ch === "*" && text[i + 1] === "*" && style.bold !== true && isOpening(text, i + 2)) {
      const end = findClose(text, i + 2, "**");
      if (end !== -1) {
        flush();
        parseInto(text.slice(i + 2, end), { ...style, bold: true }, out);
        i = end + 2;
        continue;
      }
    }
    if (ch === "_" && style.italic !== true && !isWordChar(text[i - 1]) && isOpening(text, i + 1)) {
      const end = findClose(text, i + 1, "_");
      if (end !== -1) {
        flush();
        parseInto(text.slice(i + 1, end), { ...style, italic: true }, out);
        i = end + 1;
        continue;
      }
    }
    if (ch === "[" && style.link === undefined) {
      const link = matchLink(text, i);
      if (link !== undefined) {
        flush();
        parseInto(link.label, { ...style, link: link.url }, out);
        i = link.end;
        continue;
      }
    }
    plain += ch;
    i++;
  }
  flush();
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

function isOpening(text: string, contentStart: number): boolean {
  const next = text[contentStart];
  return next !== undefined && !/\s/.test(next);
}

/** Index of the closing marker for content starting at `from`, skipping code spans and escapes; -1 if none. */
function findClose(text: string, from: number, marker: "**" | "_"): number {
  for (let j = from + 1; j < text.length; j++) {
    const ch = text[j]!;
    if (ch === "\\") {
      j++;
      continue;
    }
    if (ch === "`") {
      const end = text.indexOf("`", j + 1);
      if (end !== -1) j = end;
      continue;
    }
    if (!text.startsWith(marker, j) || /\s/.test(text[j - 1]!)) continue;
    if (marker === "_" && isWordChar(text[j + 1])) continue;
    if (marker === "**" && text[j + 2] === "*") continue; // `***` closes one later
    return j;
  }
  return -1;
}

function matchLink(text: string, start: number): { label: string; url: string; end: number } | undefined {
  const close = text.indexOf("](", start + 1);
  if (close === -1) return undefined;
  const end = text.indexOf(")", close + 2);
  if (end === -1) return undefined;
  const label = text.slice(start + 1, close);
  const url = text.slice(close + 2, end).trim();
  if (label === "" || label.includes("[") || !LINK_SCHEMES.test(url) || /\s/.test(url)) return undefined;
  return { label, url, end: end + 1 };
}

/** Join neighbouring segments of the same style. */
export function mergeSegments(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const seg of segments) {
    if (seg.text === "") continue;
    const last = out[out.length - 1];
    if (last !== undefined && sameStyle(last, seg)) last.text += seg.text;
    else out.push({ ...seg });
  }
  return out;
}

/** True when two segments carry exactly the same styles. */
export function sameStyle(a: Style, b: Style): boolean {
  return a.bold === b.bold && a.italic === b.italic && a.code === b.code && a.link === b.link;
}

/** Render segments, nesting link ⊃ bold ⊃ italic ⊃ code so neighbours share their wrappers. */
export function renderSegments(segments: Segment[], dialect: MarkdownDialect): string {
  return renderLevel(segments, dialect, 0);
}

const LEVELS = ["link", "bold", "italic"] as const;

function renderLevel(segments: Segment[], dialect: MarkdownDialect, level: number): string {
  if (segments.length === 1 && level === 0) {
    const only = segments[0]!;
    if (only.bold === undefined && only.italic === undefined && only.link === undefined) {
      return only.code === true ? dialect.code(only.text) : dialect.escape(only.text);
    }
  }
  if (level === LEVELS.length) {
    return segments.map((s) => (s.code === true ? dialect.code(s.text) : dialect.escape(s.text))).join("");
  }
  const key = LEVELS[level]!;
  if (!segments.some((seg) => seg[key] !== undefined && seg[key] !== false)) return renderLevel(segments, dialect, level + 1);
  let out = "";
  let i = 0;
  while (i < segments.length) {
    const value = segments[i]![key];
    let j = i + 1;
    while (j < segments.length && segments[j]![key] === value) j++;
    const inner = renderLevel(segments.slice(i, j), dialect, level + 1);
    if (value === undefined || value === false) out += inner;
    else if (key === "link") out += dialect.link(inner, value as string);
    else out += key === "bold" ? dialect.bold(inner) : dialect.italic(inner);
    i = j;
  }
  return out;
}

/** Render one block. */
export function renderBlock(block: MdBlock, dialect: MarkdownDialect): string {
  if (block.kind === "code") return dialect.codeBlock(block.text, block.lang);
  const inner = renderSegments(block.segments, dialect);
  return block.kind === "item" ? dialect.listItem(inner) : inner;
}

/** Render blocks as one message (lines joined with newlines). */
export function renderBlocks(blocks: MdBlock[], dialect: MarkdownDialect): string {
  return blocks.map((b) => renderBlock(b, dialect)).join("\n");
}

/** Parse and render a Reply's text in one go (`plain` skips Markdown parsing but still escapes). */
export function renderMarkdown(text: string, dialect: MarkdownDialect, format: "markdown" | "plain" = "markdown"): string {
  return renderBlocks(format === "plain" ? parsePlain(text) : parseMarkdown(text), dialect);
}

/** The text a reader sees, with every marker removed: what every dialect's output must decode back to. */
export function plainTextOf(blocks: MdBlock[]): string {
  return blocks.map((b) => {
    if (b.kind === "code") return b.text;
    const inner = b.segments.map((s) => s.text).join("");
    return b.kind === "item" ? `- ${inner}` : inner;
  }).join("\n");
}

/** Move leading/trailing white space outside a marker pair (`** x**` is not bold on most platforms). */
export function wrapMarker(inner: string, open: string, close = open): string {
  const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(inner)!;
  if (m[2] === "") return inner;
  return `${m[1]}${open}${m[2]}${close}${m[3]}`;
}
