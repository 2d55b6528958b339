/** The Discord REST layer's signals: one per call (nothing piles up on a long-lived signal), aborted at stop. */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { DiscordApi } from "../../../../adapters/discord/api.ts";
import { HealthTracker } from "../../../../adapters/shared/health.ts";

function api(makeRequest: (url: string, init: RequestInit) => Promise<Response>): DiscordApi {
  return new DiscordApi({
    token: "t",
    applicationId: "1",
    apiRoot: "http://127.0.0.1:9/api",
    health: new HealthTracker("discord"),
    limits: { globalPerSecond: 0, perChatIntervalMs: 0 },
    drainTimeoutMs: 50,
    makeRequest: makeRequest as never,
  });
}

describe("DiscordApi signals", () => {
  it("gives each REST call a signal of its own, so listeners the REST client leaves do not accumulate", async () => {
    const seen: AbortSignal[] = [];
    const discord = api(async () => new Response(null, { status: 204 }));
    for (let i = 0; i < 50; i++) {
      await discord.interactionCall("probe", { chatId: "c", isEdit: true }, (signal) => {
        seen.push(signal);
        return discord.interactionRest.post(`/interactions/${i}/tok/callback`, {
          body: { type: 1 },
          auth: false,
          signal,
        });
      });
    }
    expect(new Set(seen).size).toBe(50);
    // The REST client adds one abort listener to the signal it is given and never removes it: one, not fifty.
    expect(Math.max(...seen.map((s) => getEventListeners(s, "abort").length))).toBe(1);
    await discord.stop();
  });

  it("aborts a call still in flight when it stops", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const discord = api((_url, init) => {
      started();
      const signal = init.signal!;
      return new Promise((_resolve, reject) => {
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener("abort", () => reject(signal.reason));
      });
    });
    const call = discord.createMessage("c", { content: "hi" });
    const outcome = call.then(
      () => "sent",
      (error: unknown) => (error as { code?: string }).code,
    );
    await running;
    await discord.stop(); // waits for queued work (up to the limiter's drain timeout), then aborts what still runs
    expect(await outcome).toBe("E_TIMEOUT");
  });
});
