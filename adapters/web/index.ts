/** The web chat adapter: a console session's person talking to the bot in the browser. */
export { WebChatAdapter, WEB_PLATFORM, webChatIdOf, webUserKeyOf, webHtml, webHtmlToText } from "./adapter.ts";
export type { WebChatAdapterOptions, WebChatPost } from "./adapter.ts";
export { DEFAULT_WEB_CHAT_LIMITS, type WebChatEvent, type WebChatLimits } from "./chats.ts";
