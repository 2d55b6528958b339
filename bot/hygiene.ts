/**
 * Cleaning of text that others wrote (skill replies, language-model answers) before it goes to a chat: no
 * control characters (terminal escapes, C0/C1), no bidi overrides that reorder what is shown, no raw platform
 * mentions that would notify people, and no link whose shown text hides where it goes.
 */

// C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides, isolates and marks.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this is for.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const MARKDOWN_LINK = /\[([^\]\n]{0,500})\]\(([^)\s]{1,2048})\)/g;
const SLACK_LINK = /<((?:https?|mailto):[^|>\s]{1,2048})\|([^>\n]{0,500})>/g;
const ZWSP = "\u200b";

/** Options for `cleanChatText`. */
export interface CleanOptions {
  /** Keep mentions (the skill declared `messages.mentions` and the chat granted it). Default false. */
  mentions?: boolean;
}

/**
 * Clean text for a chat. Controls and bidi characters are removed; `[text](url)` keeps its text only when the
 * text is the URL (or its host), else the host is shown next to it; mentions are neutralised unless allowed.
 *
 * ```ts
 * cleanChatText("[bank](https://evil.example) <@U0ADMIN> \u202e") // "[bank](https://evil.example) (evil.example) <\u200b@U0ADMIN> "
 * ```
 */
export function cleanChatText(text: string, options: CleanOptions = {}): string {
  let out = text.replace(CONTROLS, "");
  out = out.replace(SLACK_LINK, (_all, url: string, label: string) => `[${label}](${url})`);
  out = out.replace(MARKDOWN_LINK, (all, label: string, url: string) => {
    const host = hostOf(url);
    if (host === undefined) return all;
    const shown = label.trim().toLowerCase();
    if (shown === url.toLowerCase() || shown === host || hostOf(shown) === host) return all;
    return `${all} (${host})`;
  });
  return options.mentions === true ? out : neutraliseMentions(out);
}

/**
 * Raw mention syntax of every platform made inert with a zero-width space, so it shows but notifies no one:
 * `@everyone`/`@here`/`@channel`/`@all`, Telegram `@username`, Slack `<@U…>`, `<!here>`, `<!subteam^…>`, and
 * Discord `<@123>`, `<@!123>`, `<@&123>`.
 */
export function neutraliseMentions(text: string): string {
  return (
    text
      // Slack and Discord raw mentions: <@U0ADMIN>, <@!123>, <@&123>, <!channel>, <!subteam^S1|@team>.
      .replace(/<([@!])/g, `<${ZWSP}$1`)
      // Mass mentions and Telegram @usernames (not e-mail addresses: the @ must not follow a word character).
      .replace(/(^|[^\w@\u200b])@([A-Za-z][\w]{0,31})/g, `$1@${ZWSP}$2`)
  );
}

function hostOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.hostname === "" ? undefined : parsed.hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
