/** Replies → Bot API `sendMessage` payloads: Telegram HTML, split at 4096, buttons on the last piece. */
import type { InlineKeyboardMarkup } from "grammy/types";
import { SwitchboardError, type Reply } from "../../bot/index.ts";
import { renderReply, telegramHtml } from "../shared/index.ts";

/** Telegram's limit on one message, counted after entity parsing. */
export const TELEGRAM_MAX_TEXT = 4096;

/** Telegram's limit on a button's callback data, in bytes. */
export const TELEGRAM_MAX_CALLBACK_BYTES = 64;

/** The HTML pieces of a reply (at least one, never empty text). */
export function renderTelegram(reply: Reply): string[] {
  // No piece is blank but a lone "" (compared by length: the text is not read, so not flattened here).
  const rendered = renderReply(reply, telegramHtml, TELEGRAM_MAX_TEXT);
  return rendered[0] === "" ? ["…"] : rendered;
}

/** Inline keyboard for a reply's buttons; refuses data Telegram would refuse. */
export function keyboardOf(reply: Reply): InlineKeyboardMarkup | undefined {
  if (reply.buttons === undefined || reply.buttons.length === 0) return undefined;
  return {
    inline_keyboard: reply.buttons.map((row) =>
      row.map((button) => {
        if (Buffer.byteLength(button.data, "utf8") > TELEGRAM_MAX_CALLBACK_BYTES) {
          throw new SwitchboardError(
            "E_BAD_ARGS",
            `button data longer than ${TELEGRAM_MAX_CALLBACK_BYTES} bytes: ${button.data.slice(0, 20)}…`,
          );
        }
        return { text: button.label, callback_data: button.data };
      }),
    ),
  };
}
