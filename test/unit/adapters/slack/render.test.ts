import { describe, expect, it } from "vitest";
import { renderReply, SLACK_SECTION_LIMIT, SLACK_TEXT_LIMIT } from "../../../../adapters/slack/render.ts";

describe("Slack rendering", () => {
  it("renders the Markdown subset as mrkdwn and escapes &, < and >", () => {
    const [m] = renderReply({ text: "**bold** _it_ `a<b>` [docs](https://x.dev/?a=1&b=2)\n- item <@U1> & co" });
    expect(m!.text).toBe("*bold* _it_ `a&lt;b&gt;` <https://x.dev/?a=1&b=2|docs>\n• item &lt;@U1&gt; &amp; co");
    expect(m!.blocks).toBeUndefined();
  });

  it("sends plain text verbatim but still escaped", () => {
    expect(renderReply({ text: "**not bold** <!channel>", format: "plain" })[0]!.text).toBe(
      "**not bold** &lt;!channel&gt;",
    );
  });

  it("splits long text on line boundaries within the limit and keeps code blocks closed", () => {
    const code = Array.from({ length: 400 }, (_, i) => `console.log(${i}); // line ${i}`).join("\n");
    const pieces = renderReply({ text: `intro\n\`\`\`\n${code}\n\`\`\`\noutro` });
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) {
      expect(p.text.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
      expect((p.text.match(/```/g) ?? []).length % 2).toBe(0);
    }
  });

  it("puts buttons in actions blocks under the last piece, which fits a section", () => {
    const pieces = renderReply({
      text: "x ".repeat(5_000),
      buttons: [
        [
          { label: "Yes", data: "/vote yes" },
          { label: "No", data: "/vote no" },
        ],
        [{ label: "L".repeat(100), data: "/x" }],
      ],
    });
    const last = pieces[pieces.length - 1]!;
    for (const p of pieces) expect(p.text.length).toBeLessThanOrEqual(SLACK_SECTION_LIMIT);
    const blocks = last.blocks as Array<{
      type: string;
      elements?: Array<{ value: string; action_id: string; text: { text: string } }>;
    }>;
    expect(blocks[0]!.type).toBe("section");
    const actions = blocks.filter((b) => b.type === "actions");
    expect(actions).toHaveLength(2);
    expect(actions[0]!.elements!.map((e) => e.value)).toEqual(["/vote yes", "/vote no"]);
    expect(new Set(actions.flatMap((a) => a.elements!.map((e) => e.action_id))).size).toBe(3);
    expect(actions[1]!.elements![0]!.text.text.length).toBeLessThanOrEqual(75);
    expect(pieces.slice(0, -1).every((p) => p.blocks === undefined)).toBe(true);
  });
});
