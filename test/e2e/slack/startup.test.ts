/** Starting against a Slack that is down for a moment, or that refuses the token. */
import { afterEach, describe, expect, it } from "vitest";
import { startSlackAdapter } from "../../stand-ins/slack/harness.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";

describe("Slack adapter start-up", () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it("keeps retrying auth.test with backoff when Slack fails, then comes up", async () => {
    const standIn = await new SlackStandIn().start();
    closers.push(() => standIn.stop());
    standIn.failNext("auth.test", "internal_error", 2);
    const h = await startSlackAdapter({ reconnectBackoff: { initialMs: 50, maxMs: 100 } }, standIn);
    closers.push(() => h.close());
    expect(h.adapter.health().state).toBe("reconnecting");
    for (let waitedMs = 0; h.adapter.health().state !== "up" && waitedMs < 15_000; waitedMs += 25)
      await new Promise((r) => setTimeout(r, 25));
    expect(h.adapter.health().state).toBe("up");
    expect(h.adapter.health().detail).toMatch(/reconnect/);
    expect(standIn.callsOf("auth.test")).toHaveLength(3);
  });

  it("fails at once and stays down when Slack refuses the token", async () => {
    const standIn = await new SlackStandIn().start();
    closers.push(() => standIn.stop());
    const error = await startSlackAdapter({ token: "xoxb-wrong" }, standIn).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: "SwitchboardError", code: "E_ADAPTER" });
    expect(String((error as Error).message)).toContain("invalid_auth");
    expect(standIn.callsOf("auth.test")).toHaveLength(1);
  });

  it("goes down with the reason, and stops retrying, when Slack refuses the app token", async () => {
    const standIn = await new SlackStandIn().start();
    closers.push(() => standIn.stop());
    const error = await startSlackAdapter(
      { mode: "socket", appToken: "xapp-wrong", reconnectBackoff: { initialMs: 50, maxMs: 100 } },
      standIn,
    ).then(
      (h) => {
        closers.push(() => h.close());
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    await new Promise((r) => setTimeout(r, 1_500));
    // One attempt (plus the SDK's one quick retry), then nothing more: not retried forever.
    const opens = standIn.callsOf("apps.connections.open").length;
    expect(opens).toBeGreaterThanOrEqual(1);
    expect(opens).toBeLessThanOrEqual(2);
  });
});
