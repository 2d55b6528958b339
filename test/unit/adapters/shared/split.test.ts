import { describe, expect, it } from "vitest";
import {
  parseMarkdown,
  renderReply,
  splitBlocks,
  telegramHtml,
  telegramHtmlToText,
  discordMarkdown,
} from "../../../../adapters/shared/index.ts";

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");

describe("splitBlocks", () => {
  it("leaves a short message whole", () => {
    expect(renderReply({ text: "**hi**" }, telegramHtml, 4096)).toEqual(["<b>hi</b>"]);
  });

  it("cuts between lines first", () => {
    const text = ["a".repeat(60), "b".repeat(60), "c".repeat(60)].join("\n");
    expect(renderReply({ text }, telegramHtml, 130)).toEqual([`${"a".repeat(60)}\n${"b".repeat(60)}`, "c".repeat(60)]);
  });

  it("cuts a long line between words and reopens bold on each piece", () => {
    const text = `**${words(200)}**`;
    const pieces = renderReply({ text }, telegramHtml, 300);
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces) {
      expect(telegramHtml.measure!(p)).toBeLessThanOrEqual(300);
      expect(p.startsWith("<b>") && p.endsWith("</b>")).toBe(true);
    }
    expect(pieces.map(telegramHtmlToText).join(" ")).toBe(words(200));
  });

  it("closes and reopens a code block cut across messages", () => {
    const code = Array.from({ length: 100 }, (_, i) => `line ${i} <tag>`).join("\n");
    const pieces = renderReply({ text: `\`\`\`\n${code}\n\`\`\`` }, telegramHtml, 500);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) expect(p).toMatch(/^<pre>[\s\S]*<\/pre>$/);
    expect(pieces.map(telegramHtmlToText).join("\n")).toBe(code);
  });

  it("cuts a word longer than the limit between characters, never inside an entity", () => {
    const text = "&".repeat(1000);
    const pieces = renderReply({ text }, telegramHtml, 100);
    for (const p of pieces) {
      expect(p).toMatch(/^(&amp;)+$/);
      expect(telegramHtml.measure!(p)).toBeLessThanOrEqual(100);
    }
    expect(pieces.map(telegramHtmlToText).join("")).toBe(text);
  });

  it("splits a 10,000-character reply into pieces within Discord's raw limit with nothing lost", () => {
    const text = `- ${words(1500)}`;
    expect(text.length).toBeGreaterThan(10_000);
    const pieces = splitBlocks(parseMarkdown(text), discordMarkdown, 2000);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(2000);
    expect(pieces[0]!.startsWith("- word0")).toBe(true);
    expect(pieces.join(" ").replace(/^- /, "")).toBe(words(1500));
  });

  it("drops blank lines at message edges and never returns an empty list", () => {
    expect(renderReply({ text: "" }, telegramHtml, 4096)).toEqual([""]);
    const pieces = renderReply({ text: `${"a".repeat(90)}\n\n\n${"b".repeat(90)}` }, telegramHtml, 100);
    expect(pieces).toEqual(["a".repeat(90), "b".repeat(90)]);
  });
});

describe("splitBlocks filling the room left", () => {
  it("fills the rest of a message with the start of an over-long line, never exceeding the limit", () => {
    const text = `${"t".repeat(30)}\n${words(100)}`;
    const pieces = renderReply({ text }, telegramHtml, 120);
    for (const p of pieces) expect(telegramHtml.measure!(p)).toBeLessThanOrEqual(120);
    expect(pieces[0]!.startsWith(`${"t".repeat(30)}\nword0`)).toBe(true);
    expect(pieces.join(" ").replace("\n", " ")).toBe(`${"t".repeat(30)} ${words(100)}`);
  });

  it("starts a new message when the room left cannot take even one word", () => {
    const long = "y".repeat(50);
    const text = `${"t".repeat(60)}\n${long} ${long} ${long}`;
    const pieces = renderReply({ text }, telegramHtml, 100);
    for (const p of pieces) expect(telegramHtml.measure!(p)).toBeLessThanOrEqual(100);
    expect(pieces.join(" ").replace("\n", " ")).toBe(`${"t".repeat(60)} ${long} ${long} ${long}`);
  });
});
