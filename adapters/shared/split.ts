/**
 * Split a reply into messages no longer than a platform's limit. Cuts fall between lines first, then between
 * words, then (for a single over-long word) between characters — always on the token form, so every piece is
 * rendered on its own with its formatting closed and reopened (a code block cut in two becomes two code blocks).
 */
import { mergeSegments, renderBlock, type MarkdownDialect, type MdBlock, type Segment } from "./markdown.ts";

/** Split blocks into rendered messages of at most `limit` (as the dialect measures). Never returns an empty list. */
export function splitBlocks(blocks: MdBlock[], dialect: MarkdownDialect, limit: number): string[] {
  if (limit < 16) throw new RangeError(`limit too small to split into: ${limit}`);
  const measure = dialect.measure ?? ((s: string) => s.length);
  // Most replies fit: render once and measure once.
  const whole = blocks.map((b) => renderBlock(b, dialect));
  const fits = fitWhole(whole, dialect, limit);
  if (fits !== undefined) return [fits];
  const chunks: string[][] = [];
  let current: string[] = [];
  let currentLength = 0;
  const flush = () => {
    while (current.length > 0 && current[current.length - 1]!.trim() === "") current.pop();
    if (current.length > 0) chunks.push(current);
    current = [];
    currentLength = 0;
  };
  const add = (rendered: string, length: number) => {
    if (current.length === 0 && rendered.trim() === "") return; // no blank lines at a message's start
    currentLength += (current.length > 0 ? 1 : 0) + length;
    current.push(rendered);
  };
  for (const [index, block] of blocks.entries()) {
    const rendered = whole[index]!;
    const length = measure(rendered);
    if (currentLength + (current.length > 0 ? 1 : 0) + length <= limit) {
      add(rendered, length);
      continue;
    }
    if (length <= limit) {
      flush();
      add(rendered, length);
      continue;
    }
    // An over-long block first fills what is left of the current message when that is worth it.
    const room = current.length > 0 ? limit - currentLength - 1 : limit;
    const firstLimit = room >= limit / 4 ? room : limit;
    if (firstLimit === limit) flush();
    const pieces = splitBlock(block, dialect, { limit, measure, firstLimit });
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1) break;
      if (i === 0 && current.length > 0) {
        if (piece !== "") add(piece, measure(piece));
        flush();
      } else if (piece.trim() !== "") chunks.push([piece]);
    }
    const last = pieces[pieces.length - 1]!;
    if (pieces.length === 1 && current.length > 0) add(last, measure(last));
    else {
      flush();
      add(last, measure(last));
    }
  }
  flush();
  const out = chunks.map((c) => c.join("\n"));
  return out.length > 0 ? out : [""];
}

/**
 * Rendered lines as one message when they fit in `limit` (blank lines at the edges dropped), else undefined.
 * A dialect's measure never exceeds the raw length (markup only adds), so a short raw text needs no measuring.
 */
export function fitWhole(lines: string[], dialect: MarkdownDialect, limit: number): string | undefined {
  const wholeText = lines.join("\n");
  if (wholeText.length > limit && (dialect.measure === undefined || dialect.measure(wholeText) > limit))
    return undefined;
  const trimmed = trimBlankLines(lines);
  return trimmed === lines ? wholeText : trimmed.join("\n");
}

/** Largest k in [0, n] with fits(k) true, given fits is monotone (true then false). */
function fitCount(n: number, fits: (k: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Cut one over-long block into rendered pieces that each fit. */
function splitBlock(
  block: MdBlock,
  dialect: MarkdownDialect,
  { limit, measure, firstLimit }: { limit: number; measure: (s: string) => number; firstLimit: number },
): string[] {
  if (block.kind === "code") {
    const atoms = codeAtoms(block.text, dialect, { lang: block.lang, limit, measure });
    return takeGreedy(
      atoms,
      (slice) => renderBlock({ kind: "code", lang: block.lang, text: slice.join("") }, dialect),
      { limits: [firstLimit, limit], measure, tidy: trimNewlines },
    );
  }
  const atoms = wordAtoms(block.segments, (seg) => {
    const alone: MdBlock = { kind: block.kind, segments: [seg] };
    return measure(renderBlock(alone, dialect)) > limit;
  });
  let first = true;
  return takeGreedy(
    atoms,
    (slice) => {
      const segments = trimSegments(mergeSegments(slice));
      return renderBlock({ kind: first ? block.kind : "line", segments }, dialect);
    },
    {
      limits: [firstLimit, limit],
      measure,
      tidy: (x) => x,
      onPiece: () => {
        first = false;
      },
    },
  );
}

/** Take atoms greedily into pieces that fit; `render` turns a run of atoms into a piece. Limits: first, rest. */
function takeGreedy<T>(
  atoms: T[],
  render: (slice: T[]) => string,
  {
    limits,
    measure,
    tidy,
    onPiece,
  }: {
    limits: [number, number];
    measure: (s: string) => number;
    tidy: (slice: T[]) => T[];
    onPiece?: () => void;
  },
): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < atoms.length) {
    const limit = pieces.length === 0 ? limits[0] : limits[1];
    const n = fitCount(
      atoms.length - start,
      (k) => k === 0 || measure(render(tidy(atoms.slice(start, start + k)))) <= limit,
    );
    if (n === 0 && pieces.length === 0 && limit < limits[1]) {
      pieces.push(""); // nothing fits in the room left: the caller starts a new message
      continue;
    }
    const take = Math.max(1, n); // atoms are sized to fit alone, so n ≥ 1 unless the wrapper itself is too big
    const piece = render(tidy(atoms.slice(start, start + take)));
    if (piece.trim() !== "" || pieces.length === 0) pieces.push(piece);
    onPiece?.();
    start += take;
  }
  return pieces;
}

/** Words (with their trailing white space) as single-segment atoms; over-long words cut into characters runs. */
function wordAtoms(segments: Segment[], isTooLong: (seg: Segment) => boolean): Segment[] {
  const atoms: Segment[] = [];
  for (const seg of segments) {
    for (const word of seg.text.match(/\S+\s*|\s+/g) ?? []) {
      const atom = { ...seg, text: word };
      if (!isTooLong(atom)) {
        atoms.push(atom);
        continue;
      }
      const chars = Array.from(word);
      let start = 0;
      while (start < chars.length) {
        const n = Math.max(
          1,
          fitCount(
            chars.length - start,
            (k) => k === 0 || !isTooLong({ ...seg, text: chars.slice(start, start + k).join("") }),
          ),
        );
        atoms.push({ ...seg, text: chars.slice(start, start + n).join("") });
        start += n;
      }
    }
  }
  return atoms;
}

/** A code block's lines (with their newline) as atoms; over-long lines cut into character runs. */
function codeAtoms(
  text: string,
  dialect: MarkdownDialect,
  { lang, limit, measure }: { lang: string; limit: number; measure: (s: string) => number },
): string[] {
  const tooLong = (s: string) => measure(renderBlock({ kind: "code", lang, text: s }, dialect)) > limit;
  const atoms: string[] = [];
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    if (!tooLong(line)) {
      atoms.push(line);
      continue;
    }
    const chars = Array.from(line);
    let start = 0;
    while (start < chars.length) {
      const n = Math.max(
        1,
        fitCount(chars.length - start, (k) => k === 0 || !tooLong(chars.slice(start, start + k).join(""))),
      );
      atoms.push(chars.slice(start, start + n).join(""));
      start += n;
    }
  }
  return atoms;
}

function trimNewlines(slice: string[]): string[] {
  if (slice.length === 0) return slice;
  const out = slice.slice();
  out[out.length - 1] = out[out.length - 1]!.replace(/\n$/, "");
  return out;
}

/** Drop white space at a piece's edges: the message break replaces it. */
function trimSegments(segments: Segment[]): Segment[] {
  const out = segments.map((s) => ({ ...s }));
  while (out.length > 0 && out[0]!.code !== true && out[0]!.text.trimStart() === "") out.shift();
  while (out.length > 0 && out[out.length - 1]!.code !== true && out[out.length - 1]!.text.trimEnd() === "") out.pop();
  if (out.length > 0 && out[0]!.code !== true) out[0]!.text = out[0]!.text.trimStart();
  const last = out[out.length - 1];
  if (last !== undefined && last.code !== true) last.text = last.text.trimEnd();
  return out;
}

/** Drop blank lines at the start and end, as a message break would. */
function trimBlankLines(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start]!.trim() === "") start++;
  while (end > start && lines[end - 1]!.trim() === "") end--;
  return start === 0 && end === lines.length ? lines : lines.slice(start, end);
}
