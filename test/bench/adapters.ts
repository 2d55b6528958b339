/**
 * Adapter throughput. Telegram: updates through `bot.handleUpdate` → adapter (normalise, role, size check) →
 * router (dedupe, inbound limits, policy, permission check, dispatch) → a built-in command → reply rendered,
 * split and passed through the outbound limiter → handed to grammY's API layer, where a transformer answers
 * without network. Baseline in the same run: raw grammY with a bare `bot.command` handler replying through the
 * same transformer. Prints the median of paired rounds (raw and ours back to back), each round's pair, and the
 * best-of figures beside (target ≥ 0.5); then Slack and Discord the same way.
 *
 *   npx node test/bench/adapters.ts [updates=20000]     (BENCH_ROUNDS, default 10)
 */
import { Bot, type Transformer } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { createApp } from "../../bot/app/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { parseConfig } from "../../config/index.ts";
import { TelegramAdapter } from "../../adapters/telegram/index.ts";
import { benchDiscord, formatDiscordBench } from "./discord.ts";
import { benchSlack, formatSlackBench } from "./slack.ts";
import { formatPaired, pairedRounds } from "./paired.ts";

const UPDATES = Number(process.argv[2] ?? 20_000);
const CHATS = Number(process.env.BENCH_CHATS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const TOKEN = "123456:BENCH";
const BOT_INFO: UserFromGetMe = {
  id: 777,
  is_bot: true,
  first_name: "Switchboard",
  username: "switchboard_bench_bot",
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
} as UserFromGetMe;

/** A transformer that answers every call at once and counts sendMessage calls. */
function answering(onSend: () => void): Transformer {
  let id = 0;
  return (async (_prev, method, payload) => {
    if (method === "sendMessage") {
      onSend();
      const p = payload as { chat_id: number | string; text: string };
      return {
        ok: true,
        result: {
          message_id: ++id,
          date: 0,
          chat: { id: Number(p.chat_id), type: "private", first_name: "U" },
          text: p.text,
        },
      };
    }
    return { ok: true, result: true };
  }) as Transformer;
}

let nextUpdateId = 1;
function update(chat: number): Parameters<Bot["handleUpdate"]>[0] {
  return {
    update_id: nextUpdateId++,
    message: {
      message_id: nextUpdateId,
      date: 0,
      chat: { id: chat, type: "private", first_name: "U" },
      from: { id: chat, is_bot: false, first_name: "U" },
      text: "/whoami",
      entities: [{ type: "bot_command", offset: 0, length: 7 }],
    },
  } as Parameters<Bot["handleUpdate"]>[0];
}

/** Feed `n` updates and wait until `n` replies reached the API layer. Returns updates per second. */
async function run(
  handle: (u: Parameters<Bot["handleUpdate"]>[0]) => Promise<void>,
  replies: { count: number; wait(n: number): Promise<void> },
  n: number,
): Promise<number> {
  const start = replies.count;
  const t0 = performance.now();
  const batch: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    batch.push(handle(update(1_000 + (i % CHATS))));
    if (batch.length >= 256) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  await replies.wait(start + n);
  return n / ((performance.now() - t0) / 1000);
}

function counter(): { count: number; bump(): void; wait(n: number): Promise<void> } {
  let waiter: { n: number; resolve(): void } | undefined;
  const c = {
    count: 0,
    bump() {
      c.count++;
      if (waiter !== undefined && c.count >= waiter.n) {
        waiter.resolve();
        waiter = undefined;
      }
    },
    wait(n: number) {
      if (c.count >= n) return Promise.resolve();
      return new Promise<void>((resolve) => (waiter = { n, resolve }));
    },
  };
  return c;
}

// --- raw grammY baseline ------------------------------------------------------------------------------------
const rawReplies = counter();
const raw = new Bot(TOKEN, { botInfo: BOT_INFO });
raw.api.config.use(answering(() => rawReplies.bump()));
raw.command("whoami", (ctx) =>
  ctx.reply(`You are ${ctx.from?.first_name ?? "?"} (${ctx.from?.id ?? "?"}) on telegram.`).then(() => undefined),
);

// --- Switchboard --------------------------------------------------------------------------------------------
const config = parseConfig({
  log: { level: "silent" },
  http: { enabled: false },
  adapters: { console: { enabled: false } },
  limits: { perUser: { burst: 1_000_000, perMinute: 1_000_000 }, perChat: { burst: 1_000_000, perMinute: 1_000_000 } },
});
const store = await memoryStore();
const sbReplies = counter();
let adapter!: TelegramAdapter;
const app = await createApp({
  config,
  store,
  console: false,
  plugins: false,
  platformAdapters: false,
  log: createLogger({ level: "silent", format: "json" }),
  extraAdapters: (core) => {
    adapter = new TelegramAdapter(
      {
        token: TOKEN,
        apiRoot: "http://127.0.0.1:9",
        mode: "webhook",
        webhookSecret: "bench",
        webhookPath: "/telegram/webhook",
        pollTimeoutSeconds: 30,
        editIntervalMs: 1_000,
        roleCacheTtlMs: 300_000,
        maxInboundChars: 16_000,
        botInfo: BOT_INFO,
        // Unlimited budgets: the limiter is still on the path, but Telegram's real spacing would measure the clock.
        outbound: { globalPerSecond: 0, perChatIntervalMs: 0, perGroupPerMinute: 0 },
      },
      core,
    );
    adapter.bot.api.config.use(answering(() => sbReplies.bump()));
    return [adapter];
  },
});
await app.start();

// Attribution: the adapter alone (normalise, respond → render, split, limiter, API layer), with a sink that
// answers at once instead of the router.
const aloneReplies = counter();
const alone = new TelegramAdapter(
  {
    token: TOKEN,
    apiRoot: "http://127.0.0.1:9",
    mode: "webhook",
    webhookSecret: "bench",
    webhookPath: "/telegram/webhook",
    pollTimeoutSeconds: 30,
    editIntervalMs: 1_000,
    roleCacheTtlMs: 300_000,
    maxInboundChars: 16_000,
    botInfo: BOT_INFO,
    outbound: { globalPerSecond: 0, perChatIntervalMs: 0, perGroupPerMinute: 0 },
  },
  app.core,
);
alone.bot.api.config.use(answering(() => aloneReplies.bump()));
await alone.start(async (inbound) => {
  void inbound.respond({
    text: `Platform: telegram\nUser: ${inbound.user.displayName} (\`telegram:${inbound.user.id}\`)\nRole here: **member**`,
  });
});

// Warm both paths, then alternate rounds so drift on a noisy machine hits both alike.
await run((u) => raw.handleUpdate(u), rawReplies, 10_000);
await run((u) => adapter.bot.handleUpdate(u), sbReplies, 10_000);
await run((u) => alone.bot.handleUpdate(u), aloneReplies, 10_000);
const aloneRates: number[] = [];
const telegram = await pairedRounds(
  ROUNDS,
  () => run((u) => raw.handleUpdate(u), rawReplies, UPDATES),
  async () => {
    const rate = await run((u) => adapter.bot.handleUpdate(u), sbReplies, UPDATES);
    aloneRates.push(await run((u) => alone.bot.handleUpdate(u), aloneReplies, UPDATES));
    return rate;
  },
);
console.log(`telegram (${UPDATES} updates per round; handleUpdate → reply handed to grammY's API layer):`);
for (const line of formatPaired(telegram, {
  baseLabel: "raw grammY",
  oursLabel: "Switchboard",
  unit: "updates/s",
  target: 0.5,
})) {
  console.log(line);
}
console.log(
  `  adapter alone (no router): median ${Math.round([...aloneRates].sort((a, b) => a - b)[aloneRates.length >> 1]!).toLocaleString("en-US")} updates/s (rounds: ${aloneRates.map((x) => Math.round(x)).join(", ")})`,
);

await alone.stop();
await app.stop();
await store.close();

// Slack: Bolt's processEvent → adapter → router → built-in command → Web API client, against raw Bolt.
console.log(formatSlackBench(await benchSlack()));

// Discord: gateway dispatches → adapter → router → built-in command → interaction answer to REST, against raw discord.js.
console.log(formatDiscordBench(await benchDiscord()));
