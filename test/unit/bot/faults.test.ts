import { describe, expect, it } from "vitest";
import { attributeFault } from "../../../bot/faults.ts";
import { LogFloodGate } from "../../../bot/logger.ts";

const withStack = (stack: string): Error => Object.assign(new Error("boom"), { stack: `Error: boom\n${stack}` });

describe("attributeFault", () => {
  it("names the platform whose SDK or adapter folder is on the stack", () => {
    expect(
      attributeFault(withStack("    at onWebSocketMessage (/app/node_modules/@slack/socket-mode/dist/src/x.js:1:1)")),
    ).toBe("slack");
    expect(attributeFault(withStack("    at handle (/app/node_modules/discord.js/src/client/a.js:10:19)"))).toBe(
      "discord",
    );
    expect(
      attributeFault(withStack("    at WebSocketShard.onMessage (/app/node_modules/@discordjs/ws/dist/index.js:1:1)")),
    ).toBe("discord");
    expect(attributeFault(withStack("    at Bot.handleUpdate (/app/node_modules/grammy/out/bot.js:1:1)"))).toBe(
      "telegram",
    );
    expect(attributeFault(withStack("    at #onUpdate (file:///app/adapters/telegram/adapter.ts:1:1)"))).toBe(
      "telegram",
    );
  });

  it("leaves a failure with no platform frame, or no stack, unattributed", () => {
    expect(attributeFault(withStack("    at Router.handle (file:///app/bot/router/router.ts:1:1)"))).toBeUndefined();
    expect(attributeFault(null)).toBeUndefined();
    expect(attributeFault("a string")).toBeUndefined();
  });
});

describe("LogFloodGate", () => {
  it("lets the first line of a kind through, counts the rest of the window, then writes the count", () => {
    let nowMs = 0;
    const gate = new LogFloodGate({ windowMs: 1_000, now: () => nowMs });
    const flushed: number[] = [];
    const flush = (n: number) => flushed.push(n);
    const admitted = Array.from({ length: 100 }, () => gate.admit("warn|bad frame", flush)).filter(Boolean).length;
    expect(admitted).toBe(1);
    expect(gate.admit("warn|other", flush)).toBe(true);
    nowMs = 1_500;
    gate.sweep();
    expect(flushed).toEqual([99]);
    expect(gate.admit("warn|bad frame", flush)).toBe(true);
  });

  it("forgets the oldest kind past its bound, writing its count", () => {
    const gate = new LogFloodGate({ windowMs: 60_000, maxKinds: 2, now: () => 0 });
    const flushed: string[] = [];
    gate.admit("a", (n) => flushed.push(`a:${n}`));
    gate.admit("a", (n) => flushed.push(`a:${n}`));
    gate.admit("b", (n) => flushed.push(`b:${n}`));
    gate.admit("c", (n) => flushed.push(`c:${n}`));
    expect(flushed).toEqual(["a:1"]);
  });
});
