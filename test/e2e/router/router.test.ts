import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SwitchboardError, type CommandContext } from "../../../bot/index.ts";
import { openStore } from "../../../bot/storage/open.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

const OWNER = "test:boss";
let bot: TestBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

async function settle(b: TestBot): Promise<void> {
  await b.app.core.router.drain();
}

/** Register `/slow`, which answers `answer(ctx)` once the returned `release` is called. */
function slowCommand(b: TestBot, answer: (ctx: CommandContext) => string): () => void {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  b.app.core.commands.register({
    name: "slow",
    description: "waits",
    defaultRole: "guest",
    source: "builtin",
    handler: async (ctx) => {
      await gate;
      return answer(ctx);
    },
  });
  return release;
}

describe("router", () => {
  it("handles a redelivered delivery id once", async () => {
    bot = await startTestBot();
    await bot.adapter.say("/whoami", { deliveryId: "same-1" });
    await bot.adapter.say("/whoami", { deliveryId: "same-1" });
    await bot.adapter.say("/whoami", { deliveryId: "same-2" });
    await settle(bot);
    expect(bot.adapter.textsIn().filter((t) => t.includes("Platform: test"))).toHaveLength(2);
  });

  it("answers one chat in order while a slow handler in another chat does not block it", async () => {
    bot = await startTestBot();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    bot.app.core.commands.register({
      name: "slow",
      description: "waits",
      defaultRole: "guest",
      source: "builtin",
      handler: async () => {
        await gate;
        return "slow done";
      },
    });
    let n = 0;
    bot.app.core.commands.register({
      name: "count",
      description: "counts",
      defaultRole: "guest",
      source: "builtin",
      handler: async () => {
        const mine = ++n;
        await new Promise((r) => setTimeout(r, (5 - mine) * 5)); // later messages finish faster if run in parallel
        return `count ${mine}`;
      },
    });
    await bot.adapter.say("/slow", { chatId: "A" });
    await bot.adapter.say("/count", { chatId: "A" }); // queued behind /slow in chat A
    for (let i = 0; i < 4; i++) await bot.adapter.say("/count", { chatId: "B" });
    await expect.poll(() => bot!.adapter.textsIn("B").length).toBe(4);
    expect(bot.adapter.textsIn("A")).toEqual([]); // chat A is still waiting for /slow
    expect(bot.adapter.textsIn("B")).toEqual(["count 1", "count 2", "count 3", "count 4"]);
    release();
    await settle(bot);
    expect(bot.adapter.textsIn("A")).toEqual(["slow done", "count 5"]);
  });

  it("holds back adapters while too many messages are in flight (backpressure), and loses none", async () => {
    bot = await startTestBot({ set: { "limits.maxInFlight": 3 } });
    const release = slowCommand(bot, (ctx) => `done ${ctx.inbound.chat.id}`);
    const accepted: string[] = [];
    const says = ["c1", "c2", "c3", "c4", "c5"].map((chatId) =>
      bot!.adapter.say("/slow", { chatId }).then(() => accepted.push(chatId)),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Three fit; the fourth and fifth are queued too, but their adapter is told to wait.
    expect(accepted.sort()).toEqual(["c1", "c2", "c3"]);
    release();
    await Promise.all(says);
    await settle(bot);
    expect(accepted.sort()).toEqual(["c1", "c2", "c3", "c4", "c5"]);
    for (const chatId of ["c1", "c2", "c3", "c4", "c5"])
      expect(bot.adapter.textsIn(chatId)).toEqual([`done ${chatId}`]);
  });

  it("holds back adapters while too many messages wait behind busy conversations, and loses none", async () => {
    bot = await startTestBot({ set: { "limits.maxQueued": 2 } });
    const release = slowCommand(bot, (ctx) => `done ${ctx.args[0] ?? ""}`);
    const accepted: string[] = [];
    // One running message per chat; in chat A the next three wait behind the first.
    const says = ["1", "2", "3", "4"].map((n) =>
      bot!.adapter.say(`/slow ${n}`, { chatId: "A" }).then(() => accepted.push(`A${n}`)),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A1 runs, A2 and A3 wait (two, the limit), A4 waits too but its adapter is told to hold back.
    expect(accepted.sort()).toEqual(["A1", "A2", "A3"]);
    // A message to another conversation starts at once (its adapter is still told to hold back: the backlog is over).
    const other = bot.adapter.say("/slow x", { chatId: "B" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    await Promise.all([...says, other]);
    await settle(bot);
    expect(accepted.sort()).toEqual(["A1", "A2", "A3", "A4"]);
    expect(bot.adapter.textsIn("A")).toEqual(["done 1", "done 2", "done 3", "done 4"]);
    expect(bot.adapter.textsIn("B")).toEqual(["done x"]);
  });

  it("denies an admin command to a member with a clear reason", async () => {
    bot = await startTestBot({ set: { "bot.owners": [OWNER] } });
    await bot.adapter.say("/perms set status member", { userId: "boss" }); // creates the chat's policy
    await bot.adapter.say("/perms", { userId: "alice", role: "member" });
    await settle(bot);
    const [setReply, denial] = bot.adapter.textsIn();
    expect(setReply).toBe("/status now needs member.");
    expect(denial).toBe("You can't run /perms here: it needs the admin role and you are member.");
  });

  it("denies privileged commands in a chat with no policy, even to platform admins", async () => {
    bot = await startTestBot();
    await bot.adapter.say("/perms", { userId: "carol", role: "admin" });
    await bot.adapter.say("/audit", { userId: "carol", role: "owner" });
    await bot.adapter.say("/whoami", { userId: "carol", role: "admin" });
    await settle(bot);
    const texts = bot.adapter.textsIn();
    expect(texts[0]).toMatch(/\/perms is a privileged command and this chat has no policy yet/);
    expect(texts[1]).toMatch(/\/audit is a privileged command and this chat has no policy yet/);
    expect(texts[2]).toMatch(/Role here: \*\*admin\*\*/);
  });

  it("lets platform admins administer new chats when the operator says so", async () => {
    bot = await startTestBot({ set: { "permissions.newChats": "platform-admins" } });
    await bot.adapter.say("/perms", { userId: "carol", role: "admin" });
    await bot.adapter.say("/perms", { userId: "dave", role: "member" });
    await settle(bot);
    expect(bot.adapter.textsIn()[0]).toMatch(/Policy for this chat/);
    expect(bot.adapter.textsIn()[1]).toMatch(/needs the admin role and you are member/);
  });

  it("writes every /perms change to the audit log", async () => {
    bot = await startTestBot({ set: { "bot.owners": [OWNER] } });
    const changes = [
      "/perms set status admin",
      "/perms role alice admin",
      "/confirm", // /perms role asks its requester to confirm
      "/perms deny mallory",
      "/perms allow bob",
      "/perms platform-admins off",
    ];
    for (const c of changes) {
      await bot.adapter.say(c, { userId: "boss" });
      await settle(bot); // /confirm takes the priority lane: it must come after the request
    }
    await bot.adapter.say("/audit", { userId: "alice", role: "member" }); // alice is admin by override now
    await settle(bot);
    const audit = bot.adapter.textsIn().at(-1)!;
    for (const action of [
      "perms.set status",
      "perms.role test:alice",
      "perms.deny test:mallory",
      "perms.allow test:bob",
      "perms.platform-admins off",
    ]) {
      expect(audit).toContain(`test:boss ${action}`);
    }
    const entries = await bot.app.core.store.audit.list("test:c1");
    expect(entries[0]).toMatchObject({
      action: "perms.platform-admins",
      before: { trustPlatformAdmins: true },
      after: { trustPlatformAdmins: false },
    });
  });

  it("does not serve a user on the deny list", async () => {
    bot = await startTestBot({ set: { "bot.owners": [OWNER] } });
    await bot.adapter.say("/perms deny mallory", { userId: "boss" });
    await bot.adapter.say("/whoami", { userId: "mallory", role: "admin" });
    await settle(bot);
    expect(bot.adapter.textsIn()[1]).toBe("You are not allowed to use this bot here.");
  });

  it("gives the chat a short error when a handler throws, and serves the next message", async () => {
    bot = await startTestBot();
    bot.app.core.commands.register({
      name: "boom",
      description: "throws",
      defaultRole: "guest",
      source: "builtin",
      handler: () => {
        throw new Error("database password=hunter2 exploded at /srv/secret/path.ts:12");
      },
    });
    bot.app.core.commands.register({
      name: "coded",
      description: "throws a coded error",
      defaultRole: "guest",
      source: "builtin",
      handler: () => {
        throw new SwitchboardError("E_BAD_ARGS", "bad", { chatMessage: "Give me a number." });
      },
    });
    await bot.adapter.say("/boom");
    await bot.adapter.say("/coded");
    await bot.adapter.say("/whoami");
    await settle(bot);
    const [boom, coded, next] = bot.adapter.textsIn();
    expect(boom).toBe("Something went wrong on my side. It has been logged.");
    expect(boom).not.toContain("hunter2");
    expect(coded).toBe("Give me a number.");
    expect(next).toMatch(/Platform: test/);
  });

  it("says slow down once, not once per message, when a user floods", async () => {
    bot = await startTestBot({ set: { "limits.perUser": { burst: 3, perMinute: 1 } } });
    for (let i = 0; i < 10; i++) await bot.adapter.say("/whoami", { userId: "flood" });
    await settle(bot);
    const texts = bot.adapter.textsIn();
    expect(texts.filter((t) => t.includes("Platform: test"))).toHaveLength(3);
    expect(texts.filter((t) => t.includes("too fast"))).toHaveLength(1);
  });

  it("suggests the nearest command for a typo", async () => {
    bot = await startTestBot();
    await bot.adapter.say("/stauts");
    await settle(bot);
    expect(bot.adapter.textsIn()[0]).toBe("I don't know /stauts. Did you mean /status?");
  });

  it("refuses oversized messages politely and never answers other bots", async () => {
    bot = await startTestBot({ set: { "limits.maxInboundChars": 100 } });
    await bot.adapter.say(`/whoami ${"x".repeat(200)}`);
    await bot.adapter.say("/whoami", { isBot: true });
    await settle(bot);
    expect(bot.adapter.textsIn()).toEqual(["That message is too long (208 characters; the limit is 100)."]);
  });

  it("lists only what the caller may run in /help, and explains one command", async () => {
    bot = await startTestBot({ set: { "bot.owners": [OWNER] } });
    await bot.adapter.say("/perms set whoami admin", { userId: "boss" });
    await settle(bot); // /help takes the priority lane: it does not wait for the change before it
    await bot.adapter.say("/help", { userId: "dave", role: "member" });
    await bot.adapter.say("/help perms", { userId: "dave", role: "member" });
    await settle(bot);
    const [, list, perms] = bot.adapter.textsIn();
    expect(list).toContain("/help — ");
    expect(list).toContain("/status — ");
    expect(list).not.toContain("/whoami");
    expect(list).not.toContain("/perms");
    expect(perms).toContain("Needs: admin (you are member, so you can't run it here)");
  });

  it("keeps policies and audit entries across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-restart-"));
    try {
      const store1 = await openStore({ dataDir: dir });
      bot = await startTestBot({ store: store1, set: { "bot.owners": [OWNER] } });
      await bot.adapter.say("/perms set status admin", { userId: "boss" });
      await settle(bot);
      await bot.stop();
      await store1.close();
      const store2 = await openStore({ dataDir: dir });
      bot = await startTestBot({ store: store2, set: { "bot.owners": [OWNER] } });
      await bot.adapter.say("/status", { userId: "dave", role: "member" });
      await bot.adapter.say("/audit", { userId: "boss" });
      await settle(bot);
      const [status, audit] = bot.adapter.textsIn();
      expect(status).toMatch(/needs the admin role/);
      expect(audit).toContain("test:boss perms.set status");
      await bot.stop();
      bot = undefined;
      await store2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops a handler that runs past the timeout, aborts its signal and serves the next message", async () => {
    bot = await startTestBot({ set: { "limits.handlerTimeoutMs": 300 } });
    let aborted: unknown;
    bot.app.core.commands.register({
      name: "hang",
      description: "never ends",
      defaultRole: "guest",
      source: "builtin",
      handler: (ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener("abort", () => {
            aborted = ctx.signal.reason;
          });
        }),
    });
    await bot.adapter.say("/hang");
    await bot.adapter.say("/whoami");
    await settle(bot);
    expect(bot.adapter.textsIn()[0]).toBe("That took too long and was stopped.");
    expect(bot.adapter.textsIn()[1]).toMatch(/Platform: test/);
    expect(aborted).toMatchObject({ code: "E_TIMEOUT" });
  });

  it("serves /healthz, /readyz with adapter health, and Prometheus /metrics counting messages and errors", async () => {
    bot = await startTestBot();
    await bot.adapter.say("/whoami");
    await bot.adapter.say("/nope");
    await settle(bot);
    const { port } = bot.app.httpAddress()!;
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok");
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      adapters: [
        { platform: "web", state: "up" },
        { platform: "test", state: "up" },
      ],
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_messages_in_total\{platform="test"\} 2/);
    expect(metrics).toMatch(/switchboard_messages_out_total\{platform="test"\} 2/);
    expect(metrics).toMatch(/switchboard_errors_total\{code="E_UNKNOWN_COMMAND"\} 1/);
    expect(metrics).toMatch(/switchboard_handler_seconds_count\{platform="test",kind="command"\} 2/);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    await bot.adapter.stop();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });
});
