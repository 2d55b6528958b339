/** Cooldowns are shared through Redis: a model one bot process put in cooldown is skipped by another. */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type Keyv from "keyv";
import { createEphemeral } from "../../../bot/ephemeral.ts";
import { FallbackChain } from "../../../llm/fallback.ts";
import { ProviderFailure } from "../../../llm/providers/failure.ts";
import { llmModelSchema } from "../../../config/sections/llm.ts";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";

const hasRedis = await serviceAvailable("redis");
const kvs: Keyv[] = [];

afterAll(async () => {
  for (const kv of kvs) await kv.disconnect().catch(() => undefined);
});

describe.skipIf(!hasRedis)("FallbackChain over Redis", () => {
  it("skips a model another process put in cooldown, and calls it again once the cooldown ends", async () => {
    const namespace = `llm-test-${randomUUID()}`;
    const clock = {
      t: Date.now(),
      now() {
        return this.t;
      },
    };
    const settings = { baseBackoffMs: 1_000, maxBackoffMs: 60_000, maxWaitMs: 0 };
    const [kv1, kv2] = [
      createEphemeral({ redisUrl: REDIS_URL, namespace }),
      createEphemeral({ redisUrl: REDIS_URL, namespace }),
    ];
    kvs.push(kv1, kv2);
    const processA = new FallbackChain({ kv: kv1, clock, settings });
    const processB = new FallbackChain({ kv: kv2, clock, settings });
    const a = llmModelSchema.parse({ name: "a", provider: "openai", model: "a", baseUrl: "http://127.0.0.1:9/v1" });
    const b = llmModelSchema.parse({ name: "b", provider: "openai", model: "b", baseUrl: "http://127.0.0.1:9/v1" });
    const calls: string[] = [];
    await processA.run(
      [a, b],
      async (m) => {
        calls.push(`A:${m.name}`);
        if (m.name === "a") throw new ProviderFailure("rate_limit", "429", { status: 429, retryAfterMs: 30_000 });
        return "ok";
      },
      new AbortController().signal,
    );
    const onB = await processB.run(
      [a, b],
      async (m) => {
        calls.push(`B:${m.name}`);
        return m.name;
      },
      new AbortController().signal,
    );
    expect(onB.value).toBe("b");
    expect(calls).toEqual(["A:a", "A:b", "B:b"]);
    clock.t += 30_001;
    expect((await processB.run([a, b], async (m) => m.name, new AbortController().signal)).value).toBe("a");
  });
});
