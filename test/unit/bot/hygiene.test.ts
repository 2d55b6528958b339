/** Cleaning of text others wrote before it reaches a chat: mentions, controls, bidi, links. */
import { describe, expect, it } from "vitest";
import { cleanChatText } from "../../../bot/index.ts";

describe("cleanChatText", () => {
  it("neutralises each platform's raw mention syntax", () => {
    const out = cleanChatText("<@U0ADMIN> <!subteam^S0TEAM|@ops> <@!1234> <@&99> <!here> @everyone @alice mail a@b.io");
    for (const raw of ["<@U0ADMIN>", "<!subteam^", "<@!1234>", "<@&99>", "<!here>", "@everyone", "@alice"])
      expect(out).not.toContain(raw);
    expect(out).toContain("<\u200b@U0ADMIN>");
    expect(out).toContain("a@b.io");
  });

  it("keeps mentions when the skill may use them, and still cleans the rest", () => {
    expect(cleanChatText("<@U0ADMIN>\u202e", { mentions: true })).toBe("<@U0ADMIN>");
  });

  it("removes bidi overrides, isolates and C0/C1 controls but keeps newlines and tabs", () => {
    const out = cleanChatText("a\u202eb\u2066c\u200fd\u001b[31mred\u001b[0m\u0085e\u0007\tf\ng\r");
    expect(out).toBe("abcd[31mred[0me\tf\ng");
  });

  it("shows the host next to a link whose text is not its URL", () => {
    expect(cleanChatText("[your bank](https://evil.example/login)")).toBe(
      "[your bank](https://evil.example/login) (evil.example)",
    );
    expect(cleanChatText("[https://bank.example](https://evil.example)")).toBe(
      "[https://bank.example](https://evil.example) (evil.example)",
    );
    expect(cleanChatText("<https://evil.example|bank.example>")).toBe(
      "[bank.example](https://evil.example) (evil.example)",
    );
  });

  it("leaves links alone whose text is the URL or its host", () => {
    expect(cleanChatText("[https://a.example/x](https://a.example/x)")).toBe(
      "[https://a.example/x](https://a.example/x)",
    );
    expect(cleanChatText("[a.example](https://a.example/x)")).toBe("[a.example](https://a.example/x)");
  });
});
