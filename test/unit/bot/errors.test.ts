import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CATALOG, SwitchboardError, isSwitchboardError, toSwitchboardError } from "../../../bot/index.ts";

describe("error catalog", () => {
  it("is documented code for code in docs/errors.md", () => {
    const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    const documented = [...doc.matchAll(/^\| `(E_[A-Z_]+)` +\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CATALOG).sort());
  });

  it("gives every code a short chat-safe message", () => {
    for (const [code, message] of Object.entries(ERROR_CATALOG)) {
      expect(message.length, code).toBeLessThan(140);
      expect(message, code).not.toMatch(/\/(srv|home|usr|tmp)\/|Error:|at .*\.ts/);
    }
  });

  it("wraps unknown throws as E_INTERNAL without leaking their text to chat", () => {
    const wrapped = toSwitchboardError(new Error("token=abc123"));
    expect(wrapped.code).toBe("E_INTERNAL");
    expect(wrapped.chatMessage).not.toContain("abc123");
    expect(isSwitchboardError(new SwitchboardError("E_NOT_FOUND"))).toBe(true);
    expect(isSwitchboardError({ name: "SwitchboardError", code: "E_MADE_UP" })).toBe(false);
    expect(toSwitchboardError("a string").code).toBe("E_INTERNAL");
  });
});
