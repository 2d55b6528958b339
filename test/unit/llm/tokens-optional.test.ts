import { describe, expect, it, vi } from "vitest";
import { estimateTokens, TokenCounter } from "../../../llm/tokens.ts";

// An operator's install without the optional js-tiktoken: its import fails as Node's would.
vi.mock("js-tiktoken/lite", () => {
  throw new Error("Cannot find package 'js-tiktoken' imported from llm/tokens.ts");
});

describe("token counting without js-tiktoken installed", () => {
  it("says once that the estimate is used, and counts with it", async () => {
    const counter = new TokenCounter();
    const note = await counter.warm([{ model: "gpt-4o", tokenizer: "auto" }]);
    expect(note).toMatch(/exact token counts need js-tiktoken \(npm install js-tiktoken\); using the estimate/);
    expect(counter.isExact("o200k_base")).toBe(false);
    const text = "Deploy staging at 5pm, then tell #ops.";
    expect(counter.count(text, "o200k_base")).toBe(estimateTokens(text));
  });

  it("has no note when no configured model has a tokenizer", async () => {
    const counter = new TokenCounter();
    expect(await counter.warm([{ model: "llama3.2", tokenizer: "auto" }])).toBeUndefined();
  });
});
