/**
 * 👍/👎 reactions on a model's answer are feedback, end to end on each platform: the real SDK against the
 * platform's stand-in, the whole bot with the LLM plugin, and the OpenAI stand-in answering. Each person counts
 * once; taking a reaction away withdraws that person's vote; the votes reach the statistics and the export. A
 * person on the chat's deny list is not heard: their reaction is neither feedback nor seen by a listening skill.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { App } from "../../../bot/app/app.ts";
import { createLlmPlugin, type LlmPlugin } from "../../../llm/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { exportJsonl } from "../../../llm/export.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { startTelegramBot } from "../telegram/bot.ts";
import { startDiscordBot } from "../discord/harness.ts";
import { startSlackBot, SIGNING_SECRET } from "../slack/harness.ts";
import { eventCallback, reactionEvent, sendEvent, appMention } from "../../stand-ins/slack/sender.ts";

/** What a scenario needs from one platform. */
interface Platform {
  app: App;
  llm(): LlmPlugin;
  /** The skills plugin, with the listener fixture loaded (enabled in no chat until a test does). */
  skills(): SkillsPlugin;
  /** The user keys of person 0 and person 1. */
  people: [string, string];
  /** Discord only: the running adapter and the last reaction dispatch's sequence number. */
  discord?: { adapter: import("../../../adapters/discord/index.ts").DiscordAdapter; lastSeq(): number };
  /** Ask the model in a group chat; resolves with the chat key and the id of the answer's message once shown. */
  ask(text: string): Promise<{ chatKey: string; messageId: string }>;
  /** How many messages the bot has sent in the chat. */
  botMessages(): number;
  /** Person 0 or 1 adds or removes an emoji on a message. */
  react(input: { person: 0 | 1; messageId: string; emoji: string; added: boolean }): Promise<void>;
  stop(): Promise<void>;
}

let openai: OpenAiStandIn;

beforeAll(async () => {
  openai = await startOpenAiStandIn();
});

afterAll(async () => {
  await openai?.close();
});

const LISTENER = resolve(import.meta.dirname, "../../fixtures/skills/listener");

/** The LLM config section every platform's bot gets (and no built-in skills beside the listener fixture). */
function llmConfig(): Record<string, unknown> {
  return {
    "skills.builtins": false,
    "llm.editIntervalMs": 0,
    "llm.feedbackButtons": true,
    "llm.models": [
      { name: "oa-main", provider: "openai", model: "stand-main", baseUrl: openai.baseUrl, apiKey: "k", stream: false },
    ],
    "llm.profiles": { default: { models: ["oa-main"], groupTrigger: "mention-or-reply" } },
  };
}

/** The plugin list for a bot, keeping hold of the LLM and skills plugins it makes. */
function llmPlugins(): {
  plugins: Array<(core: never) => Promise<LlmPlugin | SkillsPlugin>>;
  get(): LlmPlugin;
  skills(): SkillsPlugin;
} {
  let made: LlmPlugin | undefined;
  let skills: SkillsPlugin | undefined;
  return {
    plugins: [
      async (core) => (made = await createLlmPlugin(core)),
      async (core) => {
        skills = await createSkillsPlugin(core);
        await skills.service.load(LISTENER, { source: "installed" });
        return skills;
      },
    ],
    get: () => made!,
    skills: () => skills!,
  };
}

async function startTelegram(): Promise<Platform> {
  const llm = llmPlugins();
  const bot = await startTelegramBot({ set: llmConfig(), plugins: llm.plugins as never });
  const chatId = -100_777;
  const people = [1001, 1002];
  for (const id of people) bot.standIn.setMember(chatId, id, "member");
  // A person's reactions on a message, as Telegram reports them: the whole set before and after.
  const held = new Map<string, string[]>();
  return {
    app: bot.app,
    llm: llm.get,
    skills: llm.skills,
    people: [`telegram:${people[0]}`, `telegram:${people[1]}`],
    botMessages: () => bot.standIn.messagesIn(chatId).length,
    async ask(text) {
      const before = bot.standIn.messagesIn(chatId).length;
      bot.standIn.queueMessage({
        chatId,
        chatType: "supergroup",
        userId: people[0]!,
        text: `@${bot.standIn.botUsername} ${text}`,
      });
      await bot.standIn.waitFor(() => bot.standIn.messagesIn(chatId).length > before, 15_000, "the answer");
      const answer = bot.standIn.messagesIn(chatId).at(-1)!;
      return { chatKey: `telegram:${chatId}`, messageId: String(answer.messageId) };
    },
    async react({ person, messageId, emoji, added }) {
      const key = `${person}:${messageId}`;
      const old = held.get(key) ?? [];
      const next = added ? [...old, emoji] : old.filter((e) => e !== emoji);
      held.set(key, next);
      const update = bot.standIn.queueReaction({
        chatId,
        messageId: Number(messageId),
        userId: people[person]!,
        old,
        new: next,
      });
      expect(update, "message_reaction was requested in allowed_updates").toBeDefined();
      await bot.standIn.waitFor(() => bot.standIn.pendingCount === 0, 15_000, "the reaction taken");
    },
    stop: () => bot.stop(),
  };
}

async function startDiscord(): Promise<Platform> {
  const llm = llmPlugins();
  const h = await startDiscordBot({ set: llmConfig(), plugins: llm.plugins as never });
  const { discord } = h;
  const people = [discord.users.alice, discord.users.admin];
  let lastSeq = -1;
  const fromBot = () =>
    discord.allMessages().filter((m) => m.channel_id === discord.channelId && m.author.id === discord.bot.id);
  return {
    app: h.bot.app,
    llm: llm.get,
    skills: llm.skills,
    people: [`discord:${people[0]!.id}`, `discord:${people[1]!.id}`],
    discord: { adapter: h.adapter, lastSeq: () => lastSeq },
    botMessages: () => fromBot().length,
    async ask(text) {
      const before = fromBot().length;
      discord.dispatchMessage({
        content: `<@${discord.bot.id}> ${text}`,
        author: people[0]!,
        channelId: discord.channelId,
        guildId: discord.guild.id,
        mentions: [discord.bot],
      });
      await vi.waitFor(() => expect(fromBot().length).toBeGreaterThan(before), { timeout: 15_000 });
      return { chatKey: `discord:${discord.channelId}`, messageId: fromBot().at(-1)!.id };
    },
    async react({ person, messageId, emoji, added }) {
      const seq = discord.dispatchReaction({
        user: people[person]!,
        channelId: discord.channelId,
        messageId,
        emoji,
        added,
        guildId: discord.guild.id,
      });
      expect(seq, "the client identified with the reaction intents").toBeGreaterThan(0);
      lastSeq = seq;
    },
    stop: () => h.stop(),
  };
}

/** Slack over the Events API (signed HTTP) or Socket Mode (envelopes on the stand-in's socket). */
async function startSlack(mode: "http" | "socket"): Promise<Platform> {
  const llm = llmPlugins();
  const people = ["U0000001", "U0000002"];
  const s = await startSlackBot({
    mode,
    set: llmConfig(),
    plugins: llm.plugins as never,
    users: [
      { id: people[0]!, name: "alice" },
      { id: people[1]!, name: "bob" },
    ],
  });
  const channel = "CREACT001";
  const sign = { signingSecret: SIGNING_SECRET };
  let n = 0;
  /** Hand an Events API body to the bot as the mode receives it. */
  const deliver = async (body: Record<string, unknown>): Promise<void> => {
    if (mode === "socket") {
      s.slack.deliver("events_api", body);
      return;
    }
    const res = await sendEvent(s.eventsUrl, body, sign);
    expect(res.status).toBe(200);
  };
  return {
    app: s.app,
    llm: llm.get,
    skills: llm.skills,
    people: [`slack:${people[0]}`, `slack:${people[1]}`],
    botMessages: () => s.slack.messagesIn(channel).length,
    async ask(text) {
      n += 1;
      const before = s.slack.messagesIn(channel).length;
      await deliver(
        eventCallback(
          appMention({
            text: `<@${s.slack.botUserId}> ${text}`,
            user: people[0]!,
            channel,
            ts: `1700003000.${String(n).padStart(6, "0")}`,
          }),
        ),
      );
      await vi.waitFor(() => expect(s.slack.messagesIn(channel).length).toBeGreaterThan(before), {
        timeout: 15_000,
      });
      return { chatKey: `slack:${channel}`, messageId: s.slack.messagesIn(channel).at(-1)!.ts };
    },
    async react({ person, messageId, emoji, added }) {
      // Slack names emoji; the thumbs come as +1 / -1 (here with a skin tone, as Slack sends them).
      const reaction = emoji === "👍" ? "+1::skin-tone-3" : emoji === "👎" ? "-1" : emoji;
      await deliver(
        eventCallback(
          reactionEvent({
            reaction,
            added,
            channel,
            ts: messageId,
            user: people[person]!,
            itemUser: s.slack.botUserId,
          }),
        ),
      );
    },
    stop: () => s.stop(),
  };
}

const platforms: Array<[string, () => Promise<Platform>]> = [
  ["telegram", startTelegram],
  ["discord", startDiscord],
  ["slack (Events API)", () => startSlack("http")],
  ["slack (Socket Mode)", () => startSlack("socket")],
];

describe.each(platforms)("reactions as feedback on %s", (_name, start) => {
  let p: Platform;

  beforeAll(async () => {
    p = await start();
  }, 60_000);

  afterAll(async () => {
    await p?.stop();
  });

  /** The stored votes on the turn the message carried, once the reactions before this call are recorded. */
  async function votesOn(chatKey: string, messageId: string): Promise<{ up: number; down: number } | undefined> {
    const store = p.llm().service.store;
    const turnId = await store.turnOfMessage(chatKey, messageId);
    return (await store.chatTurns(chatKey)).find((t) => t.id === turnId)?.votes;
  }

  it("counts 👍/👎 on a bot answer once per person, withdraws a removed one, and exports the label", async () => {
    openai.script.push("stand-main", { kind: "text", text: "Rate this answer." });
    const { chatKey, messageId } = await p.ask("how do I deploy?");
    const store = p.llm().service.store;
    await vi.waitFor(async () => expect(await store.turnOfMessage(chatKey, messageId)).toBeDefined(), {
      timeout: 15_000,
    });

    await p.react({ person: 0, messageId, emoji: "👍", added: true });
    await p.react({ person: 1, messageId, emoji: "👍", added: true });
    await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 2, down: 0 }), {
      timeout: 15_000,
    });

    // The same person taking 👍 away and giving it again still counts once.
    await p.react({ person: 0, messageId, emoji: "👍", added: false });
    await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 1, down: 0 }), {
      timeout: 15_000,
    });
    await p.react({ person: 0, messageId, emoji: "👍", added: true });
    // Person 1 changes their mind: 👎 replaces their 👍; their later removal of 👍 changes nothing.
    await p.react({ person: 1, messageId, emoji: "👎", added: true });
    await p.react({ person: 1, messageId, emoji: "👍", added: false });
    await p.react({ person: 1, messageId, emoji: "🎉", added: true });
    await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 1, down: 1 }), {
      timeout: 15_000,
    });

    const stats = await p.llm().service.stats.read(0);
    expect(stats.find((x) => x.model === "oa-main")).toMatchObject({ thumbsUp: 1, thumbsDown: 1 });
    const exported = exportJsonl(await store.chatTurns(chatKey), 3_600_000);
    const line = JSON.parse(exported.text.trimEnd().split("\n").at(-1)!) as {
      messages: Array<{ role: string; content: string }>;
      feedback: Array<{ message: number; label: string }>;
    };
    expect(line.feedback).toEqual([{ message: expect.any(Number), label: "mixed", up: 1, down: 1 }]);
    expect(line.messages[line.feedback[0]!.message]).toMatchObject({ role: "assistant", content: "Rate this answer." });
  });

  it("does not answer a reaction as a message, nor count one on a message that is not a model's answer", async () => {
    const calls = openai.script.requests.length;
    const { chatKey, messageId } = await p.ask("one more");
    await vi.waitFor(async () => expect(await p.llm().service.store.turnOfMessage(chatKey, messageId)).toBeDefined(), {
      timeout: 15_000,
    });
    expect(openai.script.requests.length).toBe(calls + 1);
    const said = p.botMessages();
    await p.react({ person: 1, messageId: "424242", emoji: "👍", added: true });
    await p.react({ person: 1, messageId, emoji: "👎", added: true });
    await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 0, down: 1 }), {
      timeout: 15_000,
    });
    // Neither reaction reached the model or made the bot say anything.
    expect(openai.script.requests.length).toBe(calls + 1);
    expect(p.botMessages()).toBe(said);
  });

  it("drops a denied person's reaction: not counted as feedback, not heard by a listening skill", async () => {
    openai.script.push("stand-main", { kind: "text", text: "Only some votes count." });
    const { chatKey, messageId } = await p.ask("who may vote?");
    const store = p.llm().service.store;
    await vi.waitFor(async () => expect(await store.turnOfMessage(chatKey, messageId)).toBeDefined(), {
      timeout: 15_000,
    });
    await p.skills().service.enable(chatKey, "listener", "test:admin");
    const [allowed, denied] = p.people;
    await p.app.core.permissions.updatePolicy(
      chatKey,
      { actor: "test:admin", action: "perms.deny", target: denied },
      (policy) => {
        policy.deny.push(denied);
      },
    );
    const heard = async (): Promise<string[]> =>
      ((await p.app.core.store.kv.get("skill:listener", chatKey, "heard")) as string[] | undefined) ?? [];
    const refused = async (): Promise<number> => {
      const metric = await p.app.core.metrics.registry.getSingleMetric("switchboard_errors_total")?.get();
      return metric?.values.find((v) => v.labels.code === "E_USER_DENIED")?.value ?? 0;
    };
    const refusedBefore = await refused();

    await p.react({ person: 1, messageId, emoji: "👍", added: true });
    await p.react({ person: 1, messageId, emoji: "👀", added: true });
    await vi.waitFor(async () => expect(await refused()).toBe(refusedBefore + 2), { timeout: 15_000 });
    // The allowed person's reactions go through the same path after them, and are both counted and heard.
    await p.react({ person: 0, messageId, emoji: "👍", added: true });
    await p.react({ person: 0, messageId, emoji: "🎉", added: true });
    await vi.waitFor(async () => expect(await heard()).toContain(`reaction 🎉 on ${messageId}`), { timeout: 15_000 });
    await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 1, down: 0 }), {
      timeout: 15_000,
    });
    expect(await heard()).toContain(`reaction 👍 on ${messageId}`);
    expect(await heard()).not.toContain(`reaction 👀 on ${messageId}`);
    expect((await heard()).filter((line) => line === `reaction 👍 on ${messageId}`)).toHaveLength(1);
    expect(allowed).not.toBe(denied);
  }, 60_000);

  it.runIf(_name === "discord")(
    "journals a Discord reaction before handling it, and drops a redelivery of it by the journal's key",
    async () => {
      const discord = p.discord!;
      openai.script.push("stand-main", { kind: "text", text: "Journal this vote." });
      const { chatKey, messageId } = await p.ask("is a reaction journaled?");
      const store = p.llm().service.store;
      await vi.waitFor(async () => expect(await store.turnOfMessage(chatKey, messageId)).toBeDefined(), {
        timeout: 15_000,
      });
      await p.react({ person: 0, messageId, emoji: "👎", added: true });
      await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 0, down: 1 }), {
        timeout: 15_000,
      });
      const journaled = async (emoji: string): Promise<Array<{ t: string; s: number; d: unknown }>> => {
        const rows = await p.app.core.store.sql.query<{ events: string }>(
          "SELECT events FROM journal_batches WHERE platform = $1",
          ["discord"],
        );
        return rows.rows
          .flatMap((row) => JSON.parse(row.events) as Array<{ t: string; s: number; d: Record<string, unknown> }>)
          .filter(
            (e) =>
              e.t === "MESSAGE_REACTION_ADD" &&
              e.d.message_id === messageId &&
              (e.d.emoji as { name?: string } | undefined)?.name === emoji,
          );
      };
      // Written to the journal as it arrived (the gateway acknowledges nothing: this is what keeps it).
      const [written] = await journaled("👎");
      expect(written).toMatchObject({ t: "MESSAGE_REACTION_ADD", s: discord.lastSeq() });
      // The same dispatch again (a RESUME replays what the session missed) is the same journal key: dropped.
      // A later reaction goes through after it; once that one is journaled and counted, the repeat was settled.
      discord.adapter.handleDispatch({ t: written!.t, s: written!.s, d: written!.d });
      await p.react({ person: 0, messageId, emoji: "👍", added: true });
      await vi.waitFor(async () => expect(await votesOn(chatKey, messageId)).toEqual({ up: 1, down: 0 }), {
        timeout: 15_000,
      });
      expect(await journaled("👍")).toHaveLength(1);
      expect(await journaled("👎")).toHaveLength(1);
    },
    60_000,
  );
});
