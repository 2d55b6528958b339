/** One call from a `Reply` to the messages a platform should receive. */
import type { Reply } from "../../bot/index.ts";
import { parseMarkdown, parsePlain, type MarkdownDialect } from "./markdown.ts";
import { splitBlocks } from "./split.ts";

/** Render a reply's text in a dialect and split it at `limit`. Always at least one (possibly empty) message. */
export function renderReply(reply: Pick<Reply, "text" | "format">, dialect: MarkdownDialect, limit: number): string[] {
  const blocks = reply.format === "plain" ? parsePlain(reply.text) : parseMarkdown(reply.text);
  return splitBlocks(blocks, dialect, limit);
}
