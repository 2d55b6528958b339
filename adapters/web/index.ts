/** The web chat adapter: a console session's person talking to the bot in the browser. */
export {
  WebChatAdapter,
  DEFAULT_WEB_CHAT_FILE_LIMITS,
  WEB_PLATFORM,
  webChatIdOf,
  webUserKeyOf,
  webHtml,
  webHtmlToText,
} from "./adapter.ts";
export type { WebChatAdapterOptions, WebChatFileLimits, WebChatPost, WebChatUpload } from "./adapter.ts";
export { DEFAULT_WEB_CHAT_LIMITS, type WebChatEvent, type WebChatLimits } from "./chats.ts";
export { FileShelf, type HeldFile } from "./files.ts";
