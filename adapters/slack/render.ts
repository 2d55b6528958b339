/**
 * Reply → Slack messages: the Markdown subset rendered as mrkdwn (only `&`, `<`, `>` escaped, so user text
 * never becomes a mention or link), split on line or word boundaries with formatting closed at every cut.
 * Buttons become one Block Kit `actions` block per row under the last piece.
 */
import type { Reply } from "../../bot/index.ts";
import { parseMarkdown, parsePlain } from "../shared/markdown.ts";
import { slackMrkdwn } from "../shared/dialects.ts";
import { splitBlocks } from "../shared/split.ts";

/** Characters per message we send. `chat.postMessage` takes 40,000, but Slack truncates display past ~4,000. */
export const SLACK_TEXT_LIMIT = 4_000;
/** A `section` block's text limit, which applies to the piece that carries buttons. */
export const SLACK_SECTION_LIMIT = 3_000;
const BUTTON_LABEL_LIMIT = 75;
const BUTTON_VALUE_LIMIT = 2_000;
const BUTTONS_PER_BLOCK = 25;

/** One Slack message: `text` (mrkdwn), and Block Kit `blocks` when it carries buttons. */
export interface SlackMessage {
  text: string;
  /** False for `format: "plain"`: Slack shows the text without parsing markup (`mrkdwn: false`). */
  mrkdwn: boolean;
  blocks?: Array<Record<string, unknown>>;
}

/** Render a reply into one or more Slack messages of at most `limit` characters each. */
export function renderReply(reply: Reply, limit = SLACK_TEXT_LIMIT): SlackMessage[] {
  const hasButtons = reply.buttons?.some((row) => row.length > 0) === true;
  const blocks = reply.format === "plain" ? parsePlain(reply.text) : parseMarkdown(reply.text);
  const pieces = splitBlocks(blocks, slackMrkdwn, hasButtons ? Math.min(limit, SLACK_SECTION_LIMIT) : limit);
  const mrkdwn = reply.format !== "plain";
  const messages: SlackMessage[] = pieces.map((text) => ({ text, mrkdwn }));
  if (hasButtons) {
    const last = messages[messages.length - 1]!;
    last.blocks = [
      ...(last.text.trim() === "" ? [] : [{ type: "section", text: { type: "mrkdwn", text: last.text } }]),
      ...buttonBlocks(reply.buttons!),
    ];
    if (last.text.trim() === "")
      last.text = reply
        .buttons!.flat()
        .map((b) => b.label)
        .join(" · ");
  }
  return messages;
}

/** One `actions` block per row of buttons; a button's value is the command line it runs. */
export function buttonBlocks(rows: NonNullable<Reply["buttons"]>): Array<Record<string, unknown>> {
  let n = 0;
  return rows
    .filter((row) => row.length > 0)
    .map((row) => ({
      type: "actions",
      elements: row.slice(0, BUTTONS_PER_BLOCK).map((button) => ({
        type: "button",
        action_id: `sb:${n++}`,
        text: { type: "plain_text", text: clip(button.label, BUTTON_LABEL_LIMIT), emoji: true },
        value: clip(button.data, BUTTON_VALUE_LIMIT),
      })),
    }));
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
