/**
 * Slack over Socket Mode, end to end: the stand-in's apps.connections.open and WebSocket server → Bolt's
 * Socket Mode client (reconnects supervised by the adapter) → the real router → Web API calls.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appMention, commandPayload, eventCallback } from "../../stand-ins/slack/sender.ts";
import { startSlackBot, type SlackBot } from "./harness.ts";

describe("Slack adapter in Socket Mode", () => {
  let s: SlackBot;

  beforeAll(async () => {
    s = await startSlackBot({
      mode: "socket",
      socketPingIntervalMs: 200,
      overrides: {
        socketIdleRecycleMs: 2_000,
        socketServerPingTimeoutMs: 5_000,
        socketClientPingTimeoutMs: 5_000,
        reconnectBackoff: { initialMs: 100, maxMs: 500 },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await s?.stop();
  });

  const postedTo = (channel: string) =>
    s.slack.callsOf("chat.postMessage").filter((c) => c.body.channel === channel && c.status === 200);
  const mention = (channel: string, eventId: string, text = "<@UBOT0001> /whoami") =>
    eventCallback(appMention({ text, channel, ts: `1700001000.${eventId.slice(-6)}` }), eventId);

  it("connects with the app token and answers a slash command envelope, acking it", async () => {
    expect(s.slack.callsOf("apps.connections.open")[0]!.token).toBe(s.slack.appToken);
    expect(s.adapter.health()).toMatchObject({ state: "up" });
    const envelope = s.slack.deliver("slash_commands", commandPayload({ command: "/help", channel_id: "CSOCKHELP" }));
    await s.slack.waitFor(() => postedTo("CSOCKHELP").length > 0, 10_000, "the /help reply");
    expect(s.slack.isAcked(envelope)).toBe(true);
    expect(String(postedTo("CSOCKHELP")[0]!.body.text)).toContain("/whoami");
  });

  it("recovers from a dropped socket with no message lost and none duplicated", async () => {
    const before = s.slack.socketConnections;
    s.slack.deliver("events_api", mention("CDROP0001", "EvDROP000001"));
    await s.slack.waitFor(() => postedTo("CDROP0001").length === 1, 10_000, "the first reply");
    s.slack.dropSockets();
    // Sent while the socket is down: held by the platform until the adapter reconnects.
    s.slack.deliver("events_api", mention("CDROP0002", "EvDROP000002"));
    s.slack.deliver("events_api", mention("CDROP0003", "EvDROP000003"));
    // Slack's at-least-once delivery: the same event again in a new envelope.
    s.slack.deliver("events_api", mention("CDROP0003", "EvDROP000003"));
    await s.slack.waitFor(
      () => postedTo("CDROP0002").length === 1 && postedTo("CDROP0003").length === 1,
      15_000,
      "replies after reconnect",
    );
    expect(s.slack.socketConnections).toBeGreaterThan(before);
    await new Promise((r) => setTimeout(r, 500));
    expect([postedTo("CDROP0001").length, postedTo("CDROP0002").length, postedTo("CDROP0003").length]).toEqual([
      1, 1, 1,
    ]);
    expect(s.adapter.health().state).toBe("up");
  });

  it("counts each dropped socket as a reconnect in its health and in the admin API", async () => {
    const api = async () => {
      const { token } = await s.app.admin.credentials.createToken(
        { userKey: "slack:U0000001", displayName: "alice" },
        { name: `health-${Date.now()}`, scopes: ["read"] },
      );
      const res = await fetch(`http://127.0.0.1:${s.app.httpAddress()!.port}/api/adapters`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { adapters: Array<{ platform: string; reconnects?: number }> };
      return body.adapters.find((a) => a.platform === "slack")!;
    };
    const before = s.adapter.health().reconnects!;
    expect((await api()).reconnects).toBe(before);
    for (const round of [1, 2]) {
      const connections = s.slack.socketConnections;
      s.slack.dropSockets();
      await s.slack.waitFor(() => s.slack.socketConnections > connections, 15_000, `reconnect ${round}`);
      await expect.poll(() => s.adapter.health().state, { timeout: 15_000 }).toBe("up");
      // At least this drop's (a watchdog's recycle on a loaded machine would add its own).
      expect(s.adapter.health().reconnects).toBeGreaterThanOrEqual(before + round);
    }
    const shown = await api();
    expect(shown).toMatchObject({ platform: "slack", state: "up" });
    expect(shown.reconnects).toBeGreaterThanOrEqual(before + 2);
    expect(shown.reconnects).toBe(s.adapter.health().reconnects);
  });

  it("restarts a deaf socket (open and pinging, delivering nothing) and gets the held message", async () => {
    const before = s.slack.socketConnections;
    s.slack.setDeaf(true);
    s.slack.deliver("events_api", mention("CDEAF0001", "EvDEAF000001"));
    await s.slack.waitFor(() => postedTo("CDEAF0001").length === 1, 15_000, "the reply after the watchdog restart");
    expect(s.slack.socketConnections).toBeGreaterThan(before);
    expect(s.adapter.health().detail).toMatch(/reconnect/);
  });

  it("reconnects when Slack asks for a refresh and keeps serving", async () => {
    const before = s.slack.socketConnections;
    s.slack.requestRefresh();
    await s.slack.waitFor(
      () => s.slack.socketConnections > before && s.slack.openSockets === 1,
      15_000,
      "a new connection",
    );
    s.slack.deliver("events_api", mention("CREFRESH1", "EvREFRESH001"));
    await s.slack.waitFor(() => postedTo("CREFRESH1").length === 1, 10_000, "the reply after refresh");
  });
});
