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
  const rendered = renderReply(reply, telegramHtml, TELEGRAM_MAX_TEXT);
  if (rendered.length === 1 && !isBlank(rendered[0]!)) return rendered;
  const pieces = rendered.filter((p) => !isBlank(p));
  return pieces.length > 0 ? pieces : ["…"];
}

/** `text.trim() === ""`, deciding on the first character in the usual case (no trimmed copy is made). */
function isBlank(text: string): boolean {
  return text === "" || (/\s/.test(text[0]!) && /\s/.test(text[text.length - 1]!) && text.trim() === "");
}

/** Inline keyboard for a reply's buttons; refuses data Telegram would refuse. */
export function keyboardOf(reply: Reply): InlineKeyboardMarkup | undefined {
  if (reply.buttons === undefined || reply.buttons.length === 0) return undefined;
  return {
    inline_keyboard: reply.buttons.map((row) => row.map((button) => {
      if (Buffer.byteLength(button.data, "utf8") > TELEGRAM_MAX_CALLBACK_BYTES) {
        throw new SwitchboardError("E_BAD_ARGS", `button data longer than ${TELEGRAM_MAX_CALLBACK_BYTES} bytes: ${button.data.slice(0, 20)}…`);
      }
      return { text: button.label, callback_data: button.data };
    })),
  };
}
