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

/** Parse Reply Markdown into blocks. Unmatched markers stay literal text; nothing is ever dropped. */
export function parseMarkdown(source: string): MdBlock[] {
  const lines = normaliseNewlines(source).split("\n");
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

/** `\r\n` and lone `\r` as `\n` (most texts have neither: no regex pass then). */
function normaliseNewlines(source: string): string {
  return source.includes("\r") ? source.replace(/\r\n?/g, "\n") : source;
}

/** Blocks for text sent verbatim (`format: "plain"`): every line is plain text, escaped on render. */
export function parsePlain(source: string): MdBlock[] {
  return normaliseNewlines(source).split("\n").map((text) => ({ kind: "line", segments: text === "" ? [] : [{ text }] }));
}

/** Parse one line's inline markup into styled segments. */
export function parseInline(text: string): Segment[] {
  if (text === "") return [];
  if (nextSpecial(text, 0) === text.length) return [{ text }];
  const out: Segment[] = [];
  parseInto(text, {}, out);
  // The segments are fresh: join same-style neighbours in place.
  let n = 0;
  for (const seg of out) {
    const last = n > 0 ? out[n - 1]! : undefined;
    if (last !== undefined && sameStyle(last, seg)) last.text += seg.text;
    else out[n++] = seg;
  }
  out.length = n;
  return out;
}

type Style = Omit<Segment, "text">;

/** Index of the next character that may start markup (`\\`, `` ` ``, `*`, `_`, `[`) at or after `from`. */
function nextSpecial(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // 0x5c \  0x60 `  0x2a *  0x5f _  0x5b [
    if (c === 0x5c || c === 0x60 || c === 0x2a || c === 0x5f || c === 0x5b) return i;
  }
  return text.length;
}

function parseInto(text: string, style: Style, out: Segment[]): void {
  let plain = "";
  let i = 0;
  while (i < text.length) {
    const next = nextSpecial(text, i);
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
        if (plain !== "") out.push(styled(style, plain));
        plain = "";
        out.push(styled(style, text.slice(i + 1, end), true));
        i = end + 1;
        continue;
      }
    }
    if (ch === "*" && text[i + 1] === "*" && style.bold !== true && isOpening(text, i + 2)) {
      const end = findClose(text, i + 2, "**");
      if (end !== -1) {
        if (plain !== "") out.push(styled(style, plain));
        plain = "";
        parseInto(text.slice(i + 2, end), { ...style, bold: true }, out);
        i = end + 2;
        continue;
      }
    }
    if (ch === "_" && style.italic !== true && !isWordChar(text[i - 1]) && isOpening(text, i + 1)) {
      const end = findClose(text, i + 1, "_");
      if (end !== -1) {
        if (plain !== "") out.push(styled(style, plain));
        plain = "";
        parseInto(text.slice(i + 1, end), { ...style, italic: true }, out);
        i = end + 1;
        continue;
      }
    }
    if (ch === "[" && style.link === undefined) {
      const link = matchLink(text, i);
      if (link !== undefined) {
        if (plain !== "") out.push(styled(style, plain));
        plain = "";
        parseInto(link.label, { ...style, link: link.url }, out);
        i = link.end;
        continue;
      }
    }
    plain += ch;
    i++;
  }
  if (plain !== "") out.push(styled(style, plain));
}

/** A segment with `style` (only the styles that are set, as the parser always writes them). */
function styled(style: Style, text: string, code?: true): Segment {
  const seg: Segment = { text };
  if (style.bold === true) seg.bold = true;
  if (style.italic === true) seg.italic = true;
  if (code === true) seg.code = true;
  if (style.link !== undefined) seg.link = style.link;
  return seg;
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

/**
 * Render segments, nesting link ⊃ bold ⊃ italic ⊃ code so neighbours share their wrappers. One pass: a wrapper
 * stays open while the following segments keep its value (and every outer wrapper's), and closes (with the ones
 * inside it) at the first that does not.
 */
export function renderSegments(segments: Segment[], dialect: MarkdownDialect): string {
  let out = "";
  let i = 0;
  // Unstyled runs (the usual case) need no wrappers.
  for (; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.bold === true || seg.italic === true || seg.link !== undefined) break;
    out += seg.code === true ? dialect.code(seg.text) : dialect.escape(seg.text);
  }
  return i === segments.length ? out : renderStyled(segments, i, out, dialect);
}

/** The wrapper-keeping part of `renderSegments`, from segment `start` on, appending to `top`. */
function renderStyled(segments: Segment[], start: number, top: string, dialect: MarkdownDialect): string {
  // Inner text of each open wrapper; `undefined` when that wrapper is not open.
  let link: string | undefined;
  let inLink: string | undefined;
  let inBold: string | undefined;
  let inItalic: string | undefined;
  const append = (text: string) => {
    if (inItalic !== undefined) inItalic += text;
    else if (inBold !== undefined) inBold += text;
    else if (inLink !== undefined) inLink += text;
    else top += text;
  };
  const closeItalic = () => {
    if (inItalic === undefined) return;
    const wrapped = dialect.italic(inItalic);
    inItalic = undefined;
    append(wrapped);
  };
  const closeBold = () => {
    closeItalic();
    if (inBold === undefined) return;
    const wrapped = dialect.bold(inBold);
    inBold = undefined;
    append(wrapped);
  };
  const closeLink = () => {
    closeBold();
    if (inLink === undefined) return;
    const wrapped = dialect.link(inLink, link!);
    inLink = undefined;
    link = undefined;
    append(wrapped);
  };
  for (let i = start; i < segments.length; i++) {
    const seg = segments[i]!;
    const bold = seg.bold === true;
    const italic = seg.italic === true;
    if (seg.link !== link) {
      closeLink();
      if (seg.link !== undefined) {
        link = seg.link;
        inLink = "";
      }
    }
    if (bold !== (inBold !== undefined)) {
      closeBold();
      if (bold) inBold = "";
    }
    if (italic !== (inItalic !== undefined)) {
      closeItalic();
      if (italic) inItalic = "";
    }
    append(seg.code === true ? dialect.code(seg.text) : dialect.escape(seg.text));
  }
  closeLink();
  return top;
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
