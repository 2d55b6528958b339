/**
 * What the inbound journal costs on the Telegram whole path. Each round feeds the same updates, in poll batches
 * of 100 (what `getUpdates` returns), through `intakeUpdates` (what the poll loop calls) → router → a built-in
 * command → reply rendered, limited and handed to grammY's API layer, where a transformer answers without
 * network, and waits for every reply. Three arms in one process, interleaved round by round: raw grammY
 * (`bot.command`), Switchboard without the journal, Switchboard with the journal on a file-backed SQLite store
 * (WAL, synchronous NORMAL, as `switchboard start` opens it). Reports the whole-path ratio (Switchboard / raw
 * grammY) with and without the journal, and their quotient per paired round: median, with best-of beside it.
 *
 *   npx node test/bench/journal.ts [updates=10000] [rounds=7]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Bot, type Transformer } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import { createApp, type App } from "../../bot/app/app.ts";
import { Journal } from "../../bot/journal/journal.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore, openStore } from "../../bot/storage/open.ts";
import type { Store } from "../../bot/storage/types.ts";
import { parseConfig } from "../../config/index.ts";
import { TelegramAdapter } from "../../adapters/telegram/index.ts";

const UPDATES = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const CHATS = 100;
const BATCH = 100;
const TOKEN = "123456:BENCH";
const BOT_INFO = {
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
function update(chat: number): Update {
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
  } as Update;
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

/**
 * One arm's round: updates per second (wall), CPU microseconds per update (user + system, this process, every
 * thread) and of the main thread alone (what runs on the event loop; the embedded store checkpoints in a worker).
 */
interface Round {
  rate: number;
  cpuUs: number;
  mainUs: number;
}

/** The main thread's CPU time in µs (Node 23.9 and later; the process's on older ones). */
const mainCpu = (): number => {
  const usage = process.threadCpuUsage?.() ?? process.cpuUsage();
  return usage.user + usage.system;
};

/** Feed `n` updates in poll batches and wait for `n` replies. */
async function run(
  feed: (batch: Update[]) => Promise<void>,
  replies: ReturnType<typeof counter>,
  n: number,
): Promise<Round> {
  const start = replies.count;
  const cpu0 = process.cpuUsage();
  const main0 = mainCpu();
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const batch: Update[] = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) batch.push(update(1_000 + (j % CHATS)));
    await feed(batch);
  }
  await replies.wait(start + n);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { rate: n / (wallMs / 1000), cpuUs: (cpu.user + cpu.system) / n, mainUs: (mainCpu() - main0) / n };
}

async function switchboard(
  isJournaled: boolean,
  store: Store,
): Promise<{ app: App; adapter: TelegramAdapter; replies: ReturnType<typeof counter>; journal?: Journal }> {
  const config = parseConfig({
    log: { level: "silent" },
    http: { enabled: false },
    adapters: { console: { enabled: false } },
    storage: { journal: { enabled: isJournaled } },
    limits: {
      perUser: { burst: 1_000_000, perMinute: 1_000_000 },
      perChat: { burst: 1_000_000, perMinute: 1_000_000 },
    },
  });
  const replies = counter();
  let adapter!: TelegramAdapter;
  let journal: Journal | undefined;
  const app = await createApp({
    config,
    store,
    console: false,
    plugins: false,
    platformAdapters: false,
    log: createLogger({ level: "silent", format: "json" }),
    extraAdapters: (core) => {
      if (core.journal instanceof Journal) journal = core.journal;
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
          outbound: { globalPerSecond: 0, perChatIntervalMs: 0, perGroupPerMinute: 0 },
        },
        core,
      );
      adapter.bot.api.config.use(answering(() => replies.bump()));
      return [adapter];
    },
  });
  await app.start();
  return journal === undefined ? { app, adapter, replies } : { app, adapter, replies, journal };
}

const rawReplies = counter();
const raw = new Bot(TOKEN, { botInfo: BOT_INFO });
raw.api.config.use(answering(() => rawReplies.bump()));
raw.command("whoami", (ctx) =>
  ctx.reply(`You are ${ctx.from?.first_name ?? "?"} (${ctx.from?.id ?? "?"}) on telegram.`).then(() => undefined),
);
const rawFeed = async (batch: Update[]) => {
  for (const u of batch) await raw.handleUpdate(u);
};

const loadAtStart = loadavg()
  .map((n) => n.toFixed(2))
  .join(" ");
const dataDir = mkdtempSync(join(tmpdir(), "sb-bench-journal-"));
const journalStore = await openStore({ dataDir: join(dataDir, "with") });
// The arm without the journal runs on the same kind of store as `switchboard start` opens (file-backed SQLite), so
// the quotient is the journal's cost alone; `BENCH_PLAIN_STORE=memory` runs it on an in-memory store instead.
const plainStore =
  process.env.BENCH_PLAIN_STORE === "memory"
    ? await memoryStore()
    : await openStore({ dataDir: join(dataDir, "without") });
const plain = await switchboard(false, plainStore);
const journaled = await switchboard(true, journalStore);

// Warm every arm, then interleave rounds so drift on a noisy machine hits all alike.
await run(rawFeed, rawReplies, 5_000);
await run((b) => plain.adapter.intakeUpdates(b), plain.replies, 5_000);
await run((b) => journaled.adapter.intakeUpdates(b), journaled.replies, 5_000);
if (process.env.BENCH_PROFILE_JOURNAL !== undefined) {
  // One arm only, for a profile (node --cpu-prof): the journaled one, or the one without with `=plain`.
  const arm = process.env.BENCH_PROFILE_JOURNAL === "plain" ? plain : journaled;
  for (let r = 0; r < ROUNDS; r++)
    console.log(Math.round((await run((b) => arm.adapter.intakeUpdates(b), arm.replies, UPDATES)).rate));
  process.exit(0);
}
const rows: Array<{ raw: Round; plain: Round; journaled: Round }> = [];
const plainRound = () => run((b) => plain.adapter.intakeUpdates(b), plain.replies, UPDATES);
const journaledRound = () => run((b) => journaled.adapter.intakeUpdates(b), journaled.replies, UPDATES);
for (let r = 0; r < ROUNDS; r++) {
  const raw = await run(rawFeed, rawReplies, UPDATES);
  // The two Switchboard arms alternate which goes first, so neither always inherits the other's garbage.
  if (r % 2 === 0) {
    const p = await plainRound();
    rows.push({ raw, plain: p, journaled: await journaledRound() });
  } else {
    const j = await journaledRound();
    rows.push({ raw, plain: await plainRound(), journaled: j });
  }
}
const { rows: batchRows } = await journalStore.sql.query<{ n: number; open: number }>(
  "SELECT count(*) AS n, (SELECT count(*) FROM journal_open) AS open FROM journal_batches",
);
const { rows: markRows } = await journalStore.sql.query<{ n: number }>("SELECT count(*) AS n FROM journal_marks");

const journalCommits = () => journaled.journal?.stats.commits ?? "?";
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;
const us = (r: Round) => `${r.cpuUs.toFixed(1)} µs (main ${r.mainUs.toFixed(1)})`;
const ratioPlain = rows.map((r) => r.plain.rate / r.raw.rate);
const ratioJournal = rows.map((r) => r.journaled.rate / r.raw.rate);
const quotient = rows.map((r) => r.journaled.rate / r.plain.rate);
// CPU time is what the journal adds, whatever else the machine runs meanwhile: the same quotient in CPU terms.
const cpuQuotient = rows.map((r) => r.plain.cpuUs / r.journaled.cpuUs);
const mainQuotient = rows.map((r) => r.plain.mainUs / r.journaled.mainUs);
console.log(
  `rounds (raw grammY / without journal / with journal), ${UPDATES} updates each, batches of ${BATCH}; rate, CPU per update (main thread's):`,
);
for (const r of rows) {
  console.log(
    `  ${fmt(r.raw.rate)} ${us(r.raw)}  ${fmt(r.plain.rate)} ${us(r.plain)}  ${fmt(r.journaled.rate)} ${us(r.journaled)}`,
  );
}
console.log(
  `whole-path ratio without journal: median ${median(ratioPlain).toFixed(3)} (best ${Math.max(...ratioPlain).toFixed(3)})`,
);
console.log(
  `whole-path ratio with journal:    median ${median(ratioJournal).toFixed(3)} (best ${Math.max(...ratioJournal).toFixed(3)})`,
);
console.log(
  `with / without journal, paired:   median ${median(quotient).toFixed(3)} (best ${Math.max(...quotient).toFixed(3)}) — target ≥ 0.90`,
);
console.log(
  `the same in CPU per update:       median ${median(cpuQuotient).toFixed(3)} (best ${Math.max(...cpuQuotient).toFixed(3)}); CPU per update without ${median(rows.map((r) => r.plain.cpuUs)).toFixed(1)} µs, with ${median(rows.map((r) => r.journaled.cpuUs)).toFixed(1)} µs`,
);
console.log(
  `the same in main-thread CPU:      median ${median(mainQuotient).toFixed(3)} (best ${Math.max(...mainQuotient).toFixed(3)}); main-thread CPU per update without ${median(rows.map((r) => r.plain.mainUs)).toFixed(1)} µs, with ${median(rows.map((r) => r.journaled.mainUs)).toFixed(1)} µs`,
);
console.log(
  `load average at the start ${loadAtStart}, at the end ${loadavg()
    .map((n) => n.toFixed(2))
    .join(" ")}`,
);
console.log(
  `journal rows: ${batchRows[0]?.n} batches (${batchRows[0]?.open} open), ${markRows[0]?.n} mark rows, ${journalCommits()} commits`,
);

await plain.app.stop();
await journaled.app.stop();
await plainStore.close();
await journalStore.close();
rmSync(dataDir, { recursive: true, force: true });
