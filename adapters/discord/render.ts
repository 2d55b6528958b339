/**
 * A `Reply` as Discord message bodies: Discord markdown (the shared dialect), split at 2000 characters, no
 * mentions ever pinged (`allowed_mentions: { parse: [] }`), buttons as action rows of secondary buttons on the
 * last piece (or a hint line when a button's data does not fit a `custom_id`), and flag 64 for ephemeral
 * interaction replies.
 */
import type { Reply, ReplyButton } from "../../bot/index.ts";
import { discordMarkdown } from "../shared/dialects.ts";
import { renderReply } from "../shared/render.ts";
import type { MessageBody } from "./api.ts";

/** Discord's limit on one message's content. */
export const DISCORD_MAX_TEXT = 2_000;
/** The ephemeral message flag. */
export const EPHEMERAL_FLAG = 64;

const MAX_ROWS = 5;
const MAX_PER_ROW = 5;
const MAX_CUSTOM_ID = 100;
const MAX_LABEL = 80;

function buttonsFit(buttons: ReplyButton[][]): boolean {
  const rows = buttons.filter((row) => row.length > 0);
  return (
    rows.length <= MAX_ROWS &&
    rows.every(
      (row) => row.length <= MAX_PER_ROW && row.every((b) => b.data.length > 0 && b.data.length <= MAX_CUSTOM_ID),
    )
  );
}

/** Action rows for a reply's buttons. */
export function componentsOf(buttons: ReplyButton[][]): unknown[] {
  return buttons
    .filter((row) => row.length > 0)
    .map((row) => ({
      type: 1,
      components: row.map((b) => ({ type: 2, style: 2, label: b.label.slice(0, MAX_LABEL), custom_id: b.data })),
    }));
}

/** The hint line for buttons a platform message cannot carry. */
function buttonHint(buttons: ReplyButton[][]): string {
  return buttons
    .flat()
    .map((b) => `${b.label}: \`${b.data}\``)
    .join(" · ");
}

/**
 * Render a reply into message bodies (at least one). `isInteraction` allows the ephemeral flag; elsewhere an
 * ephemeral reply is sent normally (Discord has no ephemeral channel messages).
 */
export function renderDiscordReply(reply: Reply, isInteraction: boolean): MessageBody[] {
  const buttons = reply.buttons?.filter((row) => row.length > 0) ?? [];
  const useComponents = buttons.length > 0 && buttonsFit(buttons);
  const text = buttons.length > 0 && !useComponents ? `${reply.text}\n\n${buttonHint(buttons)}` : reply.text;
  const pieces = renderReply({ text, format: reply.format ?? "markdown" }, discordMarkdown, DISCORD_MAX_TEXT);
  const flags = isInteraction && reply.ephemeral === true ? EPHEMERAL_FLAG : 0;
  const bodies = pieces.map(
    (content): MessageBody => ({
      content: content === "" ? "\u200b" : content,
      allowed_mentions: { parse: [] },
      ...(flags === 0 ? {} : { flags }),
    }),
  );
  if (useComponents) bodies[bodies.length - 1]!.components = componentsOf(buttons);
  return bodies;
}
