/** One call from a `Reply` to the messages a platform should receive. */
import type { Reply } from "../../bot/index.ts";
import { parseMarkdown, parsePlain, renderText, type MarkdownDialect } from "./markdown.ts";
import { splitBlocks } from "./split.ts";

/**
 * Render a reply's text in a dialect and split it at `limit`. Always at least one message; no message is blank
 * (white space only) except a lone `""` when the whole text renders to nothing.
 */
export function renderReply(reply: Pick<Reply, "text" | "format">, dialect: MarkdownDialect, limit: number): string[] {
  if (limit < 16) throw new RangeError(`limit too small to split into: ${limit}`);
  const format = reply.format === "plain" ? "plain" : "markdown";
  // Most replies fit one message: render line by line straight from the text, and split only when that is too long.
  if (reply.text.length <= limit * 4) {
    const whole = renderText(reply.text, dialect, format);
    // A dialect's measure never exceeds the raw length (markup only adds): a short text needs no measuring.
    if (whole.length <= limit || (dialect.measure !== undefined && dialect.measure(whole) <= limit)) return [whole];
  }
  const pieces = splitBlocks(
    format === "plain" ? parsePlain(reply.text) : parseMarkdown(reply.text),
    dialect,
    limit,
  ).filter((piece) => piece.trim() !== "");
  return pieces.length > 0 ? pieces : [""];
}
