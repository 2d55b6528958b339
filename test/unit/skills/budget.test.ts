/** The invocation budget: each entry refused at once past its limit, manifest requests clamped to the maximums. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../config/index.ts";
import { manifestSchema } from "../../../skills/manifest.ts";
import { BudgetMeter, effectiveBudget, type InvocationBudget } from "../../../skills/runtime/budget.ts";

const BUDGET: InvocationBudget = {
  fetchInFlight: 2,
  fetchRequests: 3,
  fetchBytesIn: 1_000,
  fetchBytesOut: 100,
  fileBytesIn: 500,
  capCallsPerSecond: 5,
  capCalls: 8,
  storageWrites: 2,
  llmCalls: 1,
  llmTokens: 50,
  replies: 2,
  replyChars: 10,
};

describe("BudgetMeter", () => {
  it("refuses capability calls past the per-second bucket, and refills it with time", () => {
    let now = 0;
    const meter = new BudgetMeter(BUDGET, () => now);
    for (let i = 0; i < 5; i++) meter.chargeCall();
    expect(() => meter.chargeCall()).toThrow(/at most 5 capability calls per second/);
    now += 400;
    meter.chargeCall();
    meter.chargeCall();
    expect(() => meter.chargeCall()).toThrow(/per second/);
    now += 1_000;
    meter.chargeCall();
    expect(() => meter.chargeCall()).toThrow(/at most 8 capability calls per invocation/);
    expect(meter.firstRefusal?.code).toBe("E_SKILL_BUDGET");
    expect(meter.refusedTotal).toBe(3);
  });

  it("bounds fetches in flight, in total, and bytes both ways", () => {
    const meter = new BudgetMeter(BUDGET);
    expect(meter.beginFetch(10)).toBe(1_000);
    meter.beginFetch(10);
    expect(() => meter.beginFetch(10)).toThrow(/2 fetch requests at once/);
    meter.endFetch(900);
    expect(meter.beginFetch(10)).toBe(100);
    meter.endFetch(100);
    meter.endFetch(0);
    expect(() => meter.beginFetch(10)).toThrow(/at most 3 fetch requests per invocation/);
    const out = new BudgetMeter(BUDGET);
    expect(() => out.beginFetch(101)).toThrow(/100 bytes sent/);
  });

  it("bounds the bytes of files read, refusing a known size past what is left before reading", () => {
    const meter = new BudgetMeter(BUDGET);
    expect(meter.beginFileRead(300)).toBe(500);
    meter.endFileRead(300);
    expect(() => meter.beginFileRead(201)).toThrow(/at most 500 bytes of files read per invocation/);
    expect(meter.beginFileRead(undefined)).toBe(200);
    meter.endFileRead(200);
    expect(() => meter.beginFileRead(undefined)).toThrow(/500 bytes of files/);
    expect(meter.refused.get("files")).toBe(2);
    expect(meter.firstRefusal?.code).toBe("E_SKILL_BUDGET");
  });

  it("bounds storage writes, LLM calls and tokens, and replies", () => {
    const meter = new BudgetMeter(BUDGET);
    meter.chargeStorageWrite();
    meter.chargeStorageWrite();
    expect(() => meter.chargeStorageWrite()).toThrow(/2 storage writes/);
    expect(() => meter.beginLlm(60)).toThrow(/50 LLM tokens/);
    meter.beginLlm(10);
    expect(() => meter.beginLlm(1)).toThrow(/1 LLM calls/);
    meter.chargeReply(4);
    expect(() => meter.chargeReply(7)).toThrow(/limited to 10 characters/);
    meter.chargeReply(6);
    expect(() => meter.chargeReply(0)).toThrow(/at most 2 replies/);
  });
});

describe("effectiveBudget", () => {
  it("takes the operator's defaults, and a manifest's request up to the maximums", () => {
    const config = parseConfig({}).skills;
    const plain = manifestSchema.parse({ manifestVersion: 1, entry: "index.js" });
    expect(effectiveBudget(plain, config)).toMatchObject({ fetchRequests: 20, capCalls: 200, llmCalls: 3, replies: 5 });
    const greedy = manifestSchema.parse({
      manifestVersion: 1,
      entry: "index.js",
      limits: { budget: { fetchRequests: 50, llmCalls: 1_000, replies: 100, storageWrites: 0 } },
    });
    expect(effectiveBudget(greedy, config)).toMatchObject({
      fetchRequests: 50,
      llmCalls: 20,
      replies: 20,
      storageWrites: 0,
    });
  });
});
