/**
 * The priority lane and /stop through the real router: /status and /help are answered while a long LLM turn holds
 * the conversation, /stop aborts the provider stream (the partial answer is marked stopped) and cancels a skill's
 * call in the skill host, as the router's timeout does; ordinary messages keep their order. The skill's own wall
 * clock is set far longer than the polls, so only a cancelled call can stop its isolate in time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pickServices } from "../../../bot/index.ts";
import { createLlmPlugin, LLM_NEEDS } from "../../../llm/index.ts";
import { createSkillsPlugin, SKILLS_NEEDS, type SkillsPlugin } from "../../../skills/index.ts";
import { writeLinked } from "../../../skills/runtime/loader.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import type { SayOptions } from "../../helpers/test-adapter.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";

let bot: TestBot;
let openai: OpenAiStandIn;
let dir: string;
let skills: SkillsPlugin;

const OWNER: SayOptions = { chatKind: "dm", chatId: "d1", userId: "boss" };
/** The skill's wall clock: a call that is not cancelled keeps its isolate live this long. */
const SKILL_WALL_CLOCK_MS = 300_000;
/** How long a cancelled call's isolate may take to stop (well under the wall clock, generous for a loaded box). */
const STOPPED_WITHIN_MS = 30_000;
const texts = () => bot.adapter.textsIn("d1");

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  dir = await mkdtemp(join(tmpdir(), "sb-lane-"));
  // A linked skill whose /wait never settles (until its isolate is stopped).
  const pkg = await writeSkill(join(dir, "pkg"), {
    name: "switchboard-skill-wait",
    version: "1.0.0",
    entrySource:
      'var skill = (() => ({ default: { commands: { wait: () => new Promise(() => {}), ok: () => "ok" } } }))();\n',
    manifest: {
      commands: [
        { name: "wait", description: "waits forever" },
        { name: "ok", description: "answers" },
      ],
    },
  });
  await writeLinked(join(dir, "data"), [pkg]);
  bot = await startTestBot({
    set: {
      "bot.owners": ["test:boss"],
      "bot.dataDir": join(dir, "data"),
      "llm.editIntervalMs": 0,
      "llm.models": [{ name: "main", provider: "openai", model: "stand-main", baseUrl: openai.baseUrl, apiKey: "k" }],
      "skills.builtins": false,
      // The skill's own wall clock is far longer than the polls below: only a cancelled call stops its isolate.
      "skills.defaultTimeoutMs": SKILL_WALL_CLOCK_MS,
      "skills.maxTimeoutMs": SKILL_WALL_CLOCK_MS,
      // One person sends many messages quickly; inbound rate limits are not under test here.
      "limits.perUser": { burst: 1_000, perMinute: 100_000 },
      "limits.perChat": { burst: 1_000, perMinute: 100_000 },
    },
    plugins: [
      async (core) => (skills = await createSkillsPlugin(pickServices(core, SKILLS_NEEDS))),
      async (core) => createLlmPlugin(pickServices(core, LLM_NEEDS)),
    ],
  });
  await bot.app.core.router.process(bot.adapter.inbound("/ai on", OWNER));
  // The linked skill runs in the console only until a chat enables it.
  await skills.service.enable("test:d1", "wait", "test:boss");
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await openai?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => openai.script.clear());

describe("priority lane and /stop", () => {
  it("answers /status and /help at once while an LLM turn streams, and /stop marks the partial answer stopped", async () => {
    openai.script.push("stand-main", { kind: "hang", text: "Once upon a time" });
    void bot.adapter.say("tell me a long story", OWNER);
    await expect.poll(() => texts().some((t) => t.startsWith("Once upon a time"))).toBe(true);
    await bot.adapter.say("/status", OWNER);
    await expect.poll(() => texts().some((t) => /Switchboard .*, up /.test(t))).toBe(true);
    await bot.adapter.say("/help", OWNER);
    await expect.poll(() => texts().some((t) => t.startsWith("**Commands you can run here**"))).toBe(true);
    await bot.adapter.say("/stop", OWNER);
    await expect.poll(() => texts().includes("Stopped the answer.")).toBe(true);
    // The streamed message is edited: what came so far, marked as stopped.
    await expect
      .poll(() => bot.adapter.sent.filter((s) => s.edited === true && s.chatId === "d1").map((s) => s.text))
      .toContainEqual("Once upon a time\n\n(stopped)");
    // The conversation's queue moved on: an ordinary message is served in turn.
    openai.script.push("stand-main", { kind: "text", text: "The end." });
    await bot.app.core.router.process(bot.adapter.inbound("and then?", OWNER));
    expect(texts().at(-1)).toBe("The end.");
  });

  it("/stop cancels a skill's call in the skill host, and says so when nothing runs", {
    timeout: 180_000,
  }, async () => {
    void bot.adapter.say("/wait", OWNER);
    const live = async () =>
      (await skills.supervisor.stats()).some((h) => h.skills.some((k) => k.key.startsWith("wait@") && k.live));
    await expect.poll(live, { timeout: 60_000 }).toBe(true);
    await bot.adapter.say("/stop", OWNER);
    await expect.poll(() => texts().at(-1)).toBe("Stopped the running command.");
    // The isolate running it was stopped, not just abandoned (its own wall clock would keep it for 5 minutes).
    await expect.poll(live, { timeout: STOPPED_WITHIN_MS }).toBe(false);
    await bot.app.core.router.process(bot.adapter.inbound("/ok", OWNER));
    expect(texts().at(-1)).toBe("ok");
    await bot.app.core.router.process(bot.adapter.inbound("/stop", OWNER));
    expect(texts().at(-1)).toBe("Nothing is running here.");
  });

  it("serves /confirm at once behind the sender's own LLM turn, and behind their own command", async () => {
    await bot.app.core.router.process(bot.adapter.inbound("/perms role bob admin", OWNER));
    const id = /\/confirm ([0-9a-f]{8})/.exec(texts().at(-1) ?? "")?.[1];
    expect(id, texts().at(-1)).toBeDefined();
    openai.script.push("stand-main", { kind: "hang", text: "Meanwhile" });
    void bot.adapter.say("tell me another story", OWNER);
    await expect.poll(() => texts().some((t) => t.startsWith("Meanwhile"))).toBe(true);
    await bot.adapter.say(`/confirm ${id}`, OWNER);
    // Answered while the turn hangs; the confirmed command itself waits its turn in the conversation.
    await expect.poll(() => texts()).toContain(`Running \`/perms role bob admin\` (request ${id}).`);
    expect(texts()).not.toContain("test:bob is now admin in this chat.");
    await bot.adapter.say("/stop", OWNER);
    await expect.poll(() => texts()).toContain("test:bob is now admin in this chat.");
    // Sent right behind the command that asks, /confirm (no id) waits for the request instead of finding none.
    const before = texts().length;
    void bot.adapter.say("/perms role carol member", OWNER);
    void bot.adapter.say("/confirm", OWNER);
    await bot.app.core.router.drain();
    const after = texts().slice(before);
    expect(after).not.toContain("Nothing is waiting for you here.");
    expect(after).toContain("test:carol is now member in this chat.");
  });

  it("keeps ordinary messages in order behind a running one", async () => {
    openai.script.push("stand-main", { kind: "text", text: "first", delayMs: 200 });
    const before = texts().length;
    await bot.adapter.say("one", OWNER);
    await bot.adapter.say("/whoami", OWNER);
    await bot.app.core.router.drain();
    const after = texts().slice(before);
    const answered = after.findIndex((t) => t.startsWith("fi"));
    const whoami = after.findIndex((t) => t.startsWith("Platform: test"));
    expect(answered).toBeGreaterThanOrEqual(0);
    expect(whoami).toBeGreaterThan(answered);
    expect(after).toContain("first");
  });
});

describe("the router's timeout", () => {
  it("cancels a skill's call in the skill host, as /stop does", { timeout: 180_000 }, async () => {
    let timed: SkillsPlugin | undefined;
    // Its own data folder, linking the same /wait skill.
    await writeLinked(join(dir, "data-timeout"), [join(dir, "pkg")]);
    const short = await startTestBot({
      set: {
        "bot.owners": ["test:boss"],
        "bot.dataDir": join(dir, "data-timeout"),
        "skills.builtins": false,
        "skills.defaultTimeoutMs": SKILL_WALL_CLOCK_MS,
        "skills.maxTimeoutMs": SKILL_WALL_CLOCK_MS,
        "limits.handlerTimeoutMs": 3_000,
      },
      plugins: [async (core) => (timed = await createSkillsPlugin(pickServices(core, SKILLS_NEEDS)))],
    });
    try {
      const plugin = timed!;
      await plugin.service.enable("test:d1", "wait", "test:boss");
      const live = async () =>
        (await plugin.supervisor.stats()).some((h) => h.skills.some((k) => k.key.startsWith("wait@") && k.live));
      void short.adapter.say("/wait", OWNER);
      await expect.poll(live, { timeout: 60_000 }).toBe(true);
      await expect
        .poll(() => short.adapter.textsIn("d1").at(-1), { timeout: 30_000 })
        .toBe("That took too long and was stopped.");
      // The host stopped the isolate when the router gave up, long before the skill's own wall clock.
      await expect.poll(live, { timeout: STOPPED_WITHIN_MS }).toBe(false);
      await short.app.core.router.process(short.adapter.inbound("/ok", OWNER));
      expect(short.adapter.textsIn("d1").at(-1)).toBe("ok");
    } finally {
      await short.stop();
    }
  });
});
