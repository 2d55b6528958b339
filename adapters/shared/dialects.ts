/** The three platform dialects of the Reply Markdown subset: Telegram HTML, Slack mrkdwn, Discord markdown. */
import { wrapMarker, type MarkdownDialect } from "./markdown.ts";

/** Escape `&`, `<`, `>` (and `"` for attributes) the way Telegram's HTML parse mode and Slack expect. */
export function escapeHtml(text: string, isAttribute = false): string {
  if (!needsHtmlEscape(text, isAttribute)) return text;
  const out = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return isAttribute ? out.replace(/"/g, "&quot;") : out;
}

function needsHtmlEscape(text: string, isAttribute: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // 0x26 &  0x3c <  0x3e >  0x22 "
    if (c === 0x26 || c === 0x3c || c === 0x3e || (c === 0x22 && isAttribute)) return true;
  }
  return false;
}

/** Telegram's `parse_mode: "HTML"`. Length is counted after entity parsing, as Telegram does. */
export const telegramHtml: MarkdownDialect = {
  name: "telegram-html",
  escape: (text) => escapeHtml(text),
  bold: (inner) => `<b>${inner}</b>`,
  italic: (inner) => `<i>${inner}</i>`,
  code: (text) => `<code>${escapeHtml(text)}</code>`,
  link: (inner, url) => `<a href="${escapeHtml(url, true)}">${inner}</a>`,
  codeBlock: (text, lang) =>
    lang === ""
      ? `<pre>${escapeHtml(text)}</pre>`
      : `<pre><code class="language-${escapeHtml(lang, true)}">${escapeHtml(text)}</code></pre>`,
  listItem: (inner) => `• ${inner}`,
  measure: (rendered) => telegramHtmlToText(rendered).length,
};

/** What a Telegram client shows for our HTML: tags removed, entities decoded. */
export function telegramHtmlToText(html: string): string {
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&(amp|lt|gt|quot);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"' })[e]!);
}

/**
 * Slack mrkdwn. Slack has no escape for `*`, `_`, `~` or `` ` ``; only `&`, `<`, `>` are escaped, which is what
 * keeps user text from becoming mentions or links.
 */
export const slackMrkdwn: MarkdownDialect = {
  name: "slack-mrkdwn",
  escape: (text) => escapeHtml(text),
  bold: (inner) => wrapMarker(inner, "*"),
  italic: (inner) => wrapMarker(inner, "_"),
  code: (text) => `\`${escapeHtml(text.replace(/`/g, "ˋ"))}\``,
  link: (inner, url) => `<${url.replace(/[|>]/g, encodeURIComponent)}|${inner.replace(/\|/g, "¦")}>`,
  codeBlock: (text, _lang) => `\`\`\`\n${escapeHtml(text.replace(/```/g, "`\u200b``"))}\n\`\`\``,
  listItem: (inner) => `• ${inner}`,
};

/** Discord markdown: backslash-escapes every special, and defuses `@everyone`/`@here` and raw mentions. */
export const discordMarkdown: MarkdownDialect = {
  name: "discord-markdown",
  escape: escapeDiscord,
  bold: (inner) => wrapMarker(inner, "**"),
  italic: (inner) => wrapMarker(inner, "_"),
  code: (text) => (text.includes("`") ? `\`\` ${text.replace(/``/g, "`\u200b`")} \`\`` : `\`${text}\``),
  link: (inner, url) => `[${inner}](${url.replace(/\)/g, "%29")})`,
  codeBlock: (text, lang) => `\`\`\`${lang}\n${text.replace(/```/g, "`\u200b``")}\n\`\`\``,
  listItem: (inner) => `- ${inner}`,
};

/** Escape plain text for Discord so no character reads as markdown or a mention. */
export function escapeDiscord(text: string): string {
  // One pass (this runs for every rendered segment): specials get a backslash, `<` before a mention/channel/
  // emoji/timestamp gets one too, `@everyone`/`@here` get a zero-width space; then a leading `>`, `#` or `-`.
  const out = hasDiscordSpecial(text)
    ? text.replace(DISCORD_SPECIALS, (m) => (m === "@" ? "@\u200b" : `\\${m}`))
    : text;
  return /^\s*[>#-]/.test(out) ? out.replace(/^(\s*)([>#-])/, "$1\\$2") : out;
}

/** Whether `DISCORD_SPECIALS` could match: one scan with no regex for the usual text that has none. */
function hasDiscordSpecial(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    switch (text.charCodeAt(i)) {
      case 0x5c:
      case 0x2a:
      case 0x5f:
      case 0x7e:
      case 0x60:
      case 0x7c:
      case 0x5b:
      case 0x5d:
      case 0x28:
      case 0x29: // \ * _ ~ ` | [ ] ( )
      case 0x3c:
      case 0x40: // < @ (matched only before a mention or everyone/here)
        return true;
    }
  }
  return false;
}

const DISCORD_SPECIALS = /[\\*_~`|[\]()]|<(?=[@#:a])|@(?=everyone|here)/g;

/**
 * A terminal: ANSI bold, italic, inverse code and underlined links when `ansi` (the output is a TTY), otherwise
 * plain text with the markers dropped, so piped output reads and greps cleanly. Either way control characters
 * in the text are shown as `^X`/`\u…`, so no reply can move the cursor or retitle the operator's terminal.
 */
export function terminalDialect(options: { ansi: boolean }): MarkdownDialect {
  const { ansi } = options;
  const sgr = (on: number, off: number) => (inner: string) => (ansi ? `\u001b[${on}m${inner}\u001b[${off}m` : inner);
  const bold = sgr(1, 22);
  const underline = sgr(4, 24);
  return {
    name: ansi ? "terminal-ansi" : "terminal-plain",
    escape: escapeControls,
    bold,
    italic: sgr(3, 23),
    code: (text) => sgr(7, 27)(escapeControls(text)),
    link: (inner, url) =>
      inner === url ? underline(escapeControls(url)) : `${underline(inner)} (${escapeControls(url)})`,
    codeBlock: (text, _lang) =>
      escapeControls(text)
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n"),
    listItem: (inner) => `${ansi ? "•" : "-"} ${inner}`,
  };
}

/** Show C0/C1 control characters (except tab and newline) as visible text instead of passing them to a terminal. */
export function escapeControls(text: string): string {
  return CONTROL.test(text)
    ? text.replace(CONTROLS, (c) => {
        const code = c.charCodeAt(0);
        return code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : `\\u${code.toString(16).padStart(4, "0")}`;
      })
    : text;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
