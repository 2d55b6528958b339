/**
 * The web chat's routes over loopback on a real listener with real console sessions: who may use them (a session,
 * not a token; the CSRF token on every post), the person comes from the session and never from the request, a
 * stream resumes after the last event it saw, streams per session are bounded, and a button must be one the bot
 * showed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webChatIdOf } from "../../../adapters/web/index.ts";
import { startWebChat, type WebChatRig } from "../../stand-ins/web/harness.ts";

let rig: WebChatRig;

beforeAll(async () => {
  rig = await startWebChat({ maxStreamsPerSession: 2 });
});
afterAll(async () => {
  await rig?.close();
});

describe("web chat routes", () => {
  it("answers 401 without a session and 403 to an API token", async () => {
    const anonymous = await fetch(`${rig.base}/api/webchat/events`);
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
    const { token } = await rig.credentials.createToken(
      { userKey: "telegram:1", displayName: "one" },
      { name: "ci", scopes: ["read"] },
    );
    const withToken = await fetch(`${rig.base}/api/webchat/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ text: "hi", clientId: "abc" }),
    });
    expect(withToken.status).toBe(403);
    expect(((await withToken.json()) as { error: string }).error).toBe("E_SCOPE");
  });

  it("refuses a post without the CSRF token, and hands nothing to the router", async () => {
    const client = await rig.signIn("telegram:2");
    const before = rig.sink.received.length;
    const res = await client.post("/api/webchat/messages", { text: "hi", clientId: "nocsrf" }, { csrf: false });
    expect(res.status).toBe(403);
    expect(rig.sink.received.length).toBe(before);
  });

  it("speaks as the session's person whatever the body says, and a repeated client id repeats the delivery id", async () => {
    const client = await rig.signIn("slack:U9");
    const res = await client.post("/api/webchat/messages", {
      text: "/whoami",
      clientId: "same-1",
      userKey: "telegram:owner",
      displayName: "owner",
    });
    expect(res.status).toBe(202);
    const inbound = await rig.sink.waitFor(`web:${webChatIdOf("slack:U9")}:same-1`);
    expect(inbound).toMatchObject({
      platform: "web",
      chat: { id: "slack.U9", kind: "dm" },
      user: { id: "slack.U9", displayName: "U9" },
      command: { name: "whoami" },
    });
    // The same delivery id again: the router's dedupe drops it, as it drops a platform's redelivery.
    await client.say("/whoami", "same-1");
    const ids = rig.sink.received.filter((i) => i.deliveryId === inbound.deliveryId);
    expect(ids.length).toBe(2);
    expect(new Set(ids.map((i) => i.deliveryId)).size).toBe(1);
  });

  it("streams replies and edits, and resumes after the last event seen", async () => {
    const client = await rig.signIn("telegram:3");
    expect(await client.connect()).toBe(200);
    const { clientId } = await client.say("hello");
    const inbound = await rig.sink.waitFor(`web:${webChatIdOf("telegram:3")}:${clientId}`);
    await client.waitFor((e) => e.type === "said" && e.data.text === "hello");
    const sent = await inbound.respond({ text: "**working**", buttons: [[{ label: "Stop", data: "/stop" }]] });
    await client.waitFor((e) => e.type === "message" && e.data.messageId === sent.messageId);
    client.disconnect();
    await rig.adapter.edit(sent, { text: "done <script>x</script>" });
    expect(await client.connect()).toBe(200);
    const edit = await client.waitFor((e) => e.type === "edit" && e.data.messageId === sent.messageId);
    expect(edit.data.html).toBe("done &lt;script&gt;x&lt;/script&gt;");
    // Each event once, in order, across the reconnect.
    const ids = client.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    await client.close();
  });

  it("bounds streams per session: one past the bound answers 429, and a closed one frees its slot", async () => {
    const a = await rig.signIn("telegram:4");
    const b = await rig.signIn("telegram:4");
    const first = await a.connect();
    const second = await a.connect();
    expect([first, second]).toEqual([200, 200]);
    expect(await a.connect()).toBe(429);
    // Another session of the same person has its own slots.
    expect(await b.connect()).toBe(200);
    a.disconnect();
    await expect.poll(() => a.connect(), { timeout: 5_000 }).toBe(200);
    await a.close();
    await b.close();
  });

  it("takes a button press only for a button the bot showed on that message", async () => {
    const client = await rig.signIn("telegram:5");
    const { clientId } = await client.say("menu");
    const inbound = await rig.sink.waitFor(`web:${webChatIdOf("telegram:5")}:${clientId}`);
    const sent = await inbound.respond({ text: "pick", buttons: [[{ label: "Status", data: "/status" }]] });
    const forged = await client.press(sent.messageId, "/perms set deploy guest");
    expect(forged.status).toBe(400);
    const real = await client.press(sent.messageId, "/status");
    expect(real.status).toBe(202);
    const pressed = await rig.sink.waitFor(`web:${webChatIdOf("telegram:5")}:${real.clientId}`);
    expect(pressed).toMatchObject({ origin: "button", text: "/status", command: { name: "status" } });
  });

  it("refuses the bot's messages once the person closed the chat, until they speak again", async () => {
    const client = await rig.signIn("telegram:6");
    const { clientId } = await client.say("hi");
    const inbound = await rig.sink.waitFor(`web:${webChatIdOf("telegram:6")}:${clientId}`);
    expect((await client.post("/api/webchat/close", {})).status).toBe(200);
    await expect(inbound.respond({ text: "late" })).rejects.toMatchObject({ code: "E_ADAPTER" });
    await client.say("back");
    await expect(inbound.respond({ text: "welcome back" })).resolves.toMatchObject({ platform: "web" });
  });

  // Last: it stops the adapter.
  it("ends every open stream when the adapter stops, so the listener's close does not wait on them", async () => {
    const client = await rig.signIn("telegram:7");
    expect(await client.connect()).toBe(200);
    await expect.poll(() => rig.adapter.chats.streams).toBeGreaterThan(0);
    await rig.adapter.stop();
    await expect.poll(() => rig.adapter.chats.streams).toBe(0);
    expect(await client.connect()).toBe(503);
  });
});
