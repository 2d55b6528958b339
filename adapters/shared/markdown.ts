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
  const blocks: MdBlock[] = [];
  walkLines(source, {
    code: (text, lang) => blocks.push({ kind: "code", lang, text }),
    item: (inline) => blocks.push({ kind: "item", segments: parseInline(inline) }),
    line: (inline) => blocks.push({ kind: "line", segments: parseInline(inline) }),
  });
  return blocks;
}

/** What `walkLines` finds, in order. */
interface LineVisitor {
  code(text: string, lang: string): void;
  /** A `- ` list item; gets the text after the marker. */
  item(inline: string): void;
  line(inline: string): void;
}

/** The block structure of Reply Markdown: fenced code blocks (also unclosed), `- ` items, and other lines. */
function walkLines(source: string, visit: LineVisitor): void {
  const lines = normaliseNewlines(source).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = line.includes("```") ? /^\s*```([\w+.-]*)\s*$/.exec(line) : null;
    if (fence !== null) {
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!);
      visit.code(body.join("\n"), fence[1] ?? "");
      i = j; // skips the closing fence (or runs to the end when unclosed)
      continue;
    }
    const item = listItemText(line);
    if (item !== undefined) visit.item(item);
    else visit.line(line);
  }
}

/** The text after a `- ` list marker, or undefined when the line is not a list item. */
function listItemText(line: string): string | undefined {
  return line.includes("- ") ? /^\s*- (.*)$/.exec(line)?.[1] : undefined;
}

/** `\r\n` and lone `\r` as `\n` (most texts have neither: no regex pass then). */
function normaliseNewlines(source: string): string {
  return source.includes("\r") ? source.replace(/\r\n?/g, "\n") : source;
}

/** Blocks for text sent verbatim (`format: "plain"`): every line is plain text, escaped on render. */
export function parsePlain(source: string): MdBlock[] {
  return normaliseNewlines(source)
    .split("\n")
    .map((text) => ({ kind: "line", segments: text === "" ? [] : [{ text }] }));
}

/** Parse one line's inline markup into styled segments. */
export function parseInline(text: string): Segment[] {
  if (text === "") return [];
  if (nextSpecial(text, 0) === text.length) return [{ text }];
  const sink = new SegmentList();
  parseInto(text, { bits: 0, link: undefined }, sink);
  return sink.segments;
}

/** Style bits of a parsed run (with the link target, if any, kept beside them). */
const BOLD = 1;
const ITALIC = 2;
const CODE = 4;

/** Where the inline parser puts runs of text, in order. Runs may be empty. */
interface RunSink {
  run(text: string, bits: number, link: string | undefined): void;
}

/** Collects runs as segments, joining same-style neighbours (what `mergeSegments` does). */
class SegmentList implements RunSink {
  readonly segments: Segment[] = [];
  #lastBits = -1;
  #lastLink: string | undefined;

  run(text: string, bits: number, link: string | undefined): void {
    if (text === "") return;
    const segments = this.segments;
    if (bits === this.#lastBits && link === this.#lastLink) {
      segments[segments.length - 1]!.text += text;
      return;
    }
    const seg: Segment = { text };
    if ((bits & BOLD) !== 0) seg.bold = true;
    if ((bits & ITALIC) !== 0) seg.italic = true;
    if ((bits & CODE) !== 0) seg.code = true;
    if (link !== undefined) seg.link = link;
    segments.push(seg);
    this.#lastBits = bits;
    this.#lastLink = link;
  }
}

/** Index of the next character that may start markup (`\\`, `` ` ``, `*`, `_`, `[`) in `[from, to)`, else `to`. */
function nextSpecial(text: string, from: number, to = text.length): number {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    // 0x5c \  0x60 `  0x2a *  0x5f _  0x5b [
    if (c === 0x5c || c === 0x60 || c === 0x2a || c === 0x5f || c === 0x5b) return i;
  }
  return to;
}

function parseInto(text: string, { bits, link }: { bits: number; link: string | undefined }, out: RunSink): void {
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
        out.run(plain, bits, link);
        plain = "";
        out.run(text.slice(i + 1, end), bits | CODE, link);
        i = end + 1;
        continue;
      }
    }
    if (ch === "*" && text[i + 1] === "*" && (bits & BOLD) === 0 && isOpening(text, i + 2)) {
      const end = findClose(text, i + 2, "**");
      if (end !== -1) {
        out.run(plain, bits, link);
        plain = "";
        parseInto(text.slice(i + 2, end), { bits: bits | BOLD, link }, out);
        i = end + 2;
        continue;
      }
    }
    if (ch === "_" && (bits & ITALIC) === 0 && !isWordChar(text[i - 1]) && isOpening(text, i + 1)) {
      const end = findClose(text, i + 1, "_");
      if (end !== -1) {
        out.run(plain, bits, link);
        plain = "";
        parseInto(text.slice(i + 1, end), { bits: bits | ITALIC, link }, out);
        i = end + 1;
        continue;
      }
    }
    if (ch === "[" && link === undefined) {
      const found = matchLink(text, i);
      if (found !== undefined) {
        out.run(plain, bits, link);
        plain = "";
        parseInto(found.label, { bits, link: found.url }, out);
        i = found.end;
        continue;
      }
    }
    plain += ch;
    i++;
  }
  out.run(plain, bits, link);
}

/**
 * `prefix` followed by the line `text[from, to)` when it is made only of plain text, `` `code` `` spans and
 * `**bold**` with no markup inside, rendered straight from the text: what `parseInto` and `LineRenderer` give
 * for such a line, without runs or wrappers (most replies' lines look like this). Undefined for anything else
 * (escapes, italics, links, nesting, unmatched or adjacent markers), which the general parser renders. `first`
 * is the index of the line's first special character.
 */
function renderSimpleLine(
  text: string,
  dialect: MarkdownDialect,
  { from, first, to, prefix }: { from: number; first: number; to: number; prefix: string },
): string | undefined {
  let out = prefix;
  let plainFrom = from; // start of the plain run not yet written
  let lastEnd = -1; // where the last code or bold run ended: a run right after another would be joined
  let i = first;
  while (i < to) {
    const c = text.charCodeAt(i);
    let end: number;
    let rendered: string;
    if (c === 0x60) {
      // `code`: a closing backtick on this line with something between, else a literal (left to the general parser)
      end = text.indexOf("`", i + 1);
      if (end <= i + 1 || end >= to || i === lastEnd) return undefined;
      rendered = dialect.code(text.slice(i + 1, end));
      end += 1;
    } else if (c === 0x2a && i + 1 < to && text.charCodeAt(i + 1) === 0x2a) {
      // **bold** with plain content: opened by a non-space, closed by `**` after a non-space and not before `*`
      const open = i + 2;
      if (open >= to || isSpace(text.charCodeAt(open)) || i === lastEnd) return undefined;
      const close = text.indexOf("**", open + 1);
      if (
        close === -1 ||
        close + 2 > to ||
        isSpace(text.charCodeAt(close - 1)) ||
        (close + 2 < to && text.charCodeAt(close + 2) === 0x2a)
      )
        return undefined;
      if (nextSpecial(text, open, close) < close) return undefined;
      rendered = dialect.bold(dialect.escape(text.slice(open, close)));
      end = close + 2;
    } else return undefined;
    if (i > plainFrom) out += dialect.escape(text.slice(plainFrom, i));
    out += rendered;
    plainFrom = end;
    lastEnd = end;
    i = nextSpecial(text, end, to);
  }
  return plainFrom < to ? out + dialect.escape(text.slice(plainFrom, to)) : out;
}

/** What `\s` matches in a regular expression, for one UTF-16 code unit. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

function isOpening(text: string, contentStart: number): boolean {
  const next = text[contentStart];
  return next !== undefined && !isSpace(next.charCodeAt(0));
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
    if (!text.startsWith(marker, j) || isSpace(text.charCodeAt(j - 1))) continue;
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

type Style = Omit<Segment, "text">;

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
  const line = new LineRenderer(dialect);
  for (const seg of segments) {
    line.emit(
      seg.text,
      (seg.bold === true ? BOLD : 0) | (seg.italic === true ? ITALIC : 0) | (seg.code === true ? CODE : 0),
      seg.link,
    );
  }
  return line.finish();
}

/** Renders one line's runs as they come; with `run` (a `RunSink`), same-style neighbours are joined first. */
class LineRenderer implements RunSink {
  readonly #dialect: MarkdownDialect;
  #top = "";
  // Inner text of each open wrapper; `undefined` when that wrapper is not open.
  #link: string | undefined;
  #inLink: string | undefined;
  #inBold: string | undefined;
  #inItalic: string | undefined;
  // The run being joined (`run`), not yet emitted.
  #pending = "";
  #pendingBits = 0;
  #pendingLink: string | undefined;

  constructor(dialect: MarkdownDialect) {
    this.#dialect = dialect;
  }

  run(text: string, bits: number, link: string | undefined): void {
    if (text === "") return;
    if (this.#pending !== "") {
      if (bits === this.#pendingBits && link === this.#pendingLink) {
        this.#pending += text;
        return;
      }
      this.emit(this.#pending, this.#pendingBits, this.#pendingLink);
    }
    this.#pending = text;
    this.#pendingBits = bits;
    this.#pendingLink = link;
  }

  /** One line of inline markup, rendered (the renderer is empty again afterwards). */
  inline(text: string): string {
    if (text === "") return "";
    const first = nextSpecial(text, 0);
    if (first === text.length) return this.#dialect.escape(text);
    const simple = renderSimpleLine(text, this.#dialect, { from: 0, first, to: text.length, prefix: "" });
    if (simple !== undefined) return simple;
    parseInto(text, { bits: 0, link: undefined }, this);
    return this.finish();
  }

  /** Render one run now (no joining). */
  emit(text: string, bits: number, link: string | undefined): void {
    const bold = (bits & BOLD) !== 0;
    const italic = (bits & ITALIC) !== 0;
    if (link !== this.#link) {
      this.#closeLink();
      if (link !== undefined) {
        this.#link = link;
        this.#inLink = "";
      }
    }
    if (bold !== (this.#inBold !== undefined)) {
      this.#closeBold();
      if (bold) this.#inBold = "";
    }
    if (italic !== (this.#inItalic !== undefined)) {
      this.#closeItalic();
      if (italic) this.#inItalic = "";
    }
    this.#append((bits & CODE) !== 0 ? this.#dialect.code(text) : this.#dialect.escape(text));
  }

  /** The line so far, with every wrapper closed; the renderer is empty again afterwards. */
  finish(): string {
    if (this.#pending !== "") {
      this.emit(this.#pending, this.#pendingBits, this.#pendingLink);
      this.#pending = "";
      this.#pendingLink = undefined;
    }
    this.#closeLink();
    const out = this.#top;
    this.#top = "";
    return out;
  }

  #append(text: string): void {
    if (this.#inItalic !== undefined) this.#inItalic += text;
    else if (this.#inBold !== undefined) this.#inBold += text;
    else if (this.#inLink !== undefined) this.#inLink += text;
    else this.#top += text;
  }

  #closeItalic(): void {
    if (this.#inItalic === undefined) return;
    const wrapped = this.#dialect.italic(this.#inItalic);
    this.#inItalic = undefined;
    this.#append(wrapped);
  }

  #closeBold(): void {
    this.#closeItalic();
    if (this.#inBold === undefined) return;
    const wrapped = this.#dialect.bold(this.#inBold);
    this.#inBold = undefined;
    this.#append(wrapped);
  }

  #closeLink(): void {
    this.#closeBold();
    if (this.#inLink === undefined) return;
    const wrapped = this.#dialect.link(this.#inLink, this.#link!);
    this.#inLink = undefined;
    this.#link = undefined;
    this.#append(wrapped);
  }
}

/**
 * Each line of a Reply's text rendered in a dialect, without building blocks: what `renderBlock` gives for
 * every block of `parseMarkdown` (or `parsePlain`), in one pass. The hot path for replies that fit one message.
 */
export function renderLines(
  source: string,
  dialect: MarkdownDialect,
  format: "markdown" | "plain" = "markdown",
): string[] {
  const lines = normaliseNewlines(source).split("\n");
  if (format === "plain") {
    for (let i = 0; i < lines.length; i++) lines[i] = dialect.escape(lines[i]!);
    return lines;
  }
  const renderer = new LineRenderer(dialect);
  if (!source.includes("```")) {
    // No code blocks: every line renders on its own, in place.
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const item = listItemText(line);
      lines[i] = item === undefined ? renderer.inline(line) : dialect.listItem(renderer.inline(item));
    }
    return lines;
  }
  const out: string[] = [];
  walkLines(source, {
    code: (text, lang) => out.push(dialect.codeBlock(text, lang)),
    item: (text) => out.push(dialect.listItem(renderer.inline(text))),
    line: (text) => out.push(renderer.inline(text)),
  });
  return out;
}

/**
 * A Reply's text rendered as one message: `renderLines` joined with newlines, without blank lines at the start
 * or end. The hot path for replies (most fit one message): one pass over the lines by index (no array of lines),
 * simple lines written directly, and a line renderer made only for a line that needs the general parser.
 */
export function renderText(
  source: string,
  dialect: MarkdownDialect,
  format: "markdown" | "plain" = "markdown",
): string {
  if (format === "plain" || source.includes("```") || source.includes("\r"))
    return joinTrimmed(renderLines(source, dialect, format));
  let renderer: LineRenderer | undefined; // made only for a line the simple renderer leaves
  let out = "";
  let blanks = ""; // blank lines held back until a non-blank line follows (none are kept at the end)
  let from = 0;
  for (;;) {
    const newline = source.indexOf("\n", from);
    const to = newline === -1 ? source.length : newline;
    // A blank line renders blank and a non-blank one never does (markup only adds): judged on the source line.
    const start = firstNonSpace(source, from, to);
    if (start === to) {
      if (out !== "") blanks += "\n" + dialect.escape(source.slice(from, to));
    } else {
      const prefix = out === "" ? "" : blanks === "" ? out + "\n" : out + blanks + "\n";
      blanks = "";
      const first = source.charCodeAt(start) === 0x2d ? -1 : nextSpecial(source, from, to); // `-`: maybe a list item
      if (first === to)
        out = prefix + dialect.escape(from === 0 && to === source.length ? source : source.slice(from, to));
      else {
        const simple = first === -1 ? undefined : renderSimpleLine(source, dialect, { from, first, to, prefix });
        if (simple !== undefined) out = simple;
        else {
          const line = source.slice(from, to);
          const item = listItemText(line);
          renderer ??= new LineRenderer(dialect);
          out = prefix + (item === undefined ? renderer.inline(line) : dialect.listItem(renderer.inline(item)));
        }
      }
    }
    if (newline === -1) break;
    from = newline + 1;
  }
  return out;
}

/** Index of the first character in `[from, to)` that is not white space, else `to`. */
function firstNonSpace(text: string, from: number, to: number): number {
  for (let i = from; i < to; i++) if (!isSpace(text.charCodeAt(i))) return i;
  return to;
}

/** Lines joined with newlines, blank lines at the start and end left out. */
function joinTrimmed(lines: string[]): string {
  let start = 0;
  let end = lines.length;
  while (start < end && isBlankLine(lines[start]!)) start++;
  while (end > start && isBlankLine(lines[end - 1]!)) end--;
  return start === 0 && end === lines.length ? lines.join("\n") : lines.slice(start, end).join("\n");
}

/** `line.trim() === ""`, without making the trimmed string. */
function isBlankLine(line: string): boolean {
  return firstNonSpace(line, 0, line.length) === line.length;
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
export function renderMarkdown(
  text: string,
  dialect: MarkdownDialect,
  format: "markdown" | "plain" = "markdown",
): string {
  return renderBlocks(format === "plain" ? parsePlain(text) : parseMarkdown(text), dialect);
}

/** The text a reader sees, with every marker removed: what every dialect's output must decode back to. */
export function plainTextOf(blocks: MdBlock[]): string {
  return blocks
    .map((b) => {
      if (b.kind === "code") return b.text;
      const inner = b.segments.map((s) => s.text).join("");
      return b.kind === "item" ? `- ${inner}` : inner;
    })
    .join("\n");
}

/** Move leading/trailing white space outside a marker pair (`** x**` is not bold on most platforms). */
export function wrapMarker(inner: string, open: string, close = open): string {
  const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(inner)!;
  if (m[2] === "") return inner;
  return `${m[1]}${open}${m[2]}${close}${m[3]}`;
}
