import { describe, expect, it } from "vitest";
import {
  terminalDialect,
  discordMarkdown,
  parseInline,
  parseMarkdown,
  parsePlain,
  plainTextOf,
  renderBlock,
  renderLines,
  renderMarkdown,
  renderReply,
  renderText,
  slackMrkdwn,
  splitBlocks,
  telegramHtml,
  telegramHtmlToText,
  type MarkdownDialect,
} from "../../../../adapters/shared/index.ts";

describe("parseMarkdown", () => {
  it("parses bold, italic, code and links into styled segments", () => {
    expect(parseInline("a **b _c_** `d` [e](https://x.io)")).toEqual([
      { text: "a " },
      { text: "b ", bold: true },
      { text: "c", bold: true, italic: true },
      { text: " " },
      { text: "d", code: true },
      { text: " " },
      { text: "e", link: "https://x.io" },
    ]);
  });

  it("keeps unmatched markers and snake_case words as literal text", () => {
    expect(parseInline("snake_case_name and **open and _x")).toEqual([{ text: "snake_case_name and **open and _x" }]);
    expect(parseInline("2 * 3 ** 4")).toEqual([{ text: "2 * 3 ** 4" }]);
  });

  it("honours backslash escapes and refuses links with unsafe schemes", () => {
    expect(parseInline("\\*\\*not bold\\*\\*")).toEqual([{ text: "**not bold**" }]);
    expect(parseInline("[x](javascript:alert(1))")).toEqual([{ text: "[x](javascript:alert(1))" }]);
  });

  it("parses fenced code blocks (also unclosed) and list items", () => {
    const blocks = parseMarkdown("- one\n```ts\nconst a = 1 < 2;\n```\ntail\n```\nopen");
    expect(blocks).toEqual([
      { kind: "item", segments: [{ text: "one" }] },
      { kind: "code", lang: "ts", text: "const a = 1 < 2;" },
      { kind: "line", segments: [{ text: "tail" }] },
      { kind: "code", lang: "", text: "open" },
    ]);
  });
});

describe("dialects", () => {
  const source = '**Hi** <b>&amp; _there_ `a<b` [docs](https://x.io/?a=1&b="2")\n- item';

  it("renders Telegram HTML with < > & escaped everywhere", () => {
    expect(renderMarkdown(source, telegramHtml)).toBe(
      '<b>Hi</b> &lt;b&gt;&amp;amp; <i>there</i> <code>a&lt;b</code> <a href="https://x.io/?a=1&amp;b=&quot;2&quot;">docs</a>\n• item',
    );
  });

  it("decodes Telegram HTML back to exactly the plain text", () => {
    const blocks = parseMarkdown(source);
    expect(telegramHtmlToText(renderMarkdown(source, telegramHtml))).toBe(
      plainTextOf(blocks).replace("- item", "• item"),
    );
  });

  it("renders Slack mrkdwn with escaping and <url|label> links", () => {
    expect(renderMarkdown("**a** _b_ <@U1> [l](https://x.io)", slackMrkdwn)).toBe(
      "*a* _b_ &lt;@U1&gt; <https://x.io|l>",
    );
  });

  it("renders Discord markdown escaping specials and defusing @everyone", () => {
    expect(renderMarkdown("**a** x*y @everyone", discordMarkdown)).toBe("**a** x\\*y @\u200beveryone");
  });

  it("sends plain format verbatim but escaped", () => {
    expect(renderMarkdown("**x** <y>", telegramHtml, "plain")).toBe("**x** &lt;y&gt;");
  });
});

/** The reference for `renderText`: block rendering, blank lines at the edges dropped, joined. */
function renderedWhole(text: string, dialect: MarkdownDialect, format: "markdown" | "plain" = "markdown"): string {
  const lines = (format === "plain" ? parsePlain(text) : parseMarkdown(text)).map((block) =>
    renderBlock(block, dialect),
  );
  while (lines.length > 0 && lines[0]!.trim() === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  return lines.join("\n");
}

describe("the direct line renderer", () => {
  // Replies that fit one message are rendered line by line straight from the text (`renderLines`); split replies
  // go through blocks and segments. Both must give the same text for every input.
  const tokens = [
    "a",
    "b c",
    " ",
    "*",
    "**",
    "_",
    "`",
    "\\",
    "[",
    "]",
    "(",
    ")",
    "](",
    "https://x.io",
    "\n",
    "- ",
    "```",
    "```ts\n",
    "<",
    "&",
    ">",
    "é",
    "x_y",
    "@everyone",
    "<@1>",
    "\r\n",
    "|",
    "**w**",
    "_w_",
    "[l](https://x.io)",
    "**_w_ v**",
    "[**b** c](https://y.io)",
    "_i **b**_",
    " **x** ",
    "`c`",
    "**a `c` b**",
    "# h",
  ];
  let seed = 42;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const samples = Array.from({ length: 3_000 }, () =>
    Array.from({ length: 1 + next(20) }, () => tokens[next(tokens.length)]!).join(""),
  );

  it.each([
    telegramHtml,
    slackMrkdwn,
    discordMarkdown,
    terminalDialect({ ansi: true }),
    terminalDialect({ ansi: false }),
  ])("renders every line as the block renderer does ($name)", (dialect) => {
    for (const text of samples) {
      expect(renderLines(text, dialect), JSON.stringify(text)).toEqual(
        parseMarkdown(text).map((block) => renderBlock(block, dialect)),
      );
      expect(renderLines(text, dialect, "plain")).toEqual(parsePlain(text).map((block) => renderBlock(block, dialect)));
      expect(renderReply({ text }, dialect, 4096)).toEqual(splitBlocks(parseMarkdown(text), dialect, 4096));
      expect(renderText(text, dialect), JSON.stringify(text)).toBe(renderedWhole(text, dialect));
    }
  });
});
