/**
 * Telegram's HTML parse mode as the Bot API checks it: only the supported tags, every tag closed in order, and
 * every `<`, `>` and `&` that is not markup written as an entity. Returns the text a client would show.
 */

const ALLOWED = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "a",
  "code",
  "pre",
  "span",
  "tg-spoiler",
  "blockquote",
  "tg-emoji",
]);
const ENTITY = /^&(amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);/;
const DECODE: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"' };

/** Parse Telegram HTML; throws `Error("can't parse entities: …")` the way the Bot API refuses. */
export function parseTelegramHtml(html: string): string {
  let text = "";
  const open: string[] = [];
  let i = 0;
  while (i < html.length) {
    const ch = html[i]!;
    if (ch === "<") {
      const end = html.indexOf(">", i);
      if (end === -1) throw new Error(`can't parse entities: unclosed start tag at byte offset ${i}`);
      const tag = html.slice(i + 1, end);
      const closing = tag.startsWith("/");
      const name = (closing ? tag.slice(1) : tag).split(/\s/)[0]!.toLowerCase();
      if (!ALLOWED.has(name))
        throw new Error(`can't parse entities: unsupported start tag "${name}" at byte offset ${i}`);
      if (closing) {
        if (open.pop() !== name)
          throw new Error(
            `can't parse entities: unmatched end tag at byte offset ${i}, expected "</${open[open.length] ?? ""}>", found "</${name}>"`,
          );
      } else {
        if (name === "a" && !/\shref="[^"<>]*"/.test(tag))
          throw new Error(`can't parse entities: a tag without href at byte offset ${i}`);
        open.push(name);
      }
      i = end + 1;
      continue;
    }
    if (ch === ">") throw new Error(`can't parse entities: character '>' is reserved at byte offset ${i}`);
    if (ch === "&") {
      const m = ENTITY.exec(html.slice(i, i + 12));
      if (m === null) throw new Error(`can't parse entities: character '&' is reserved at byte offset ${i}`);
      const e = m[1]!;
      text +=
        DECODE[e] ?? String.fromCodePoint(e.startsWith("#x") ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
      i += m[0].length;
      continue;
    }
    text += ch;
    i++;
  }
  if (open.length > 0)
    throw new Error(`can't parse entities: can't find end tag corresponding to start tag "${open[open.length - 1]}"`);
  return text;
}
