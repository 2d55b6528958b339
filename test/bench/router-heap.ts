/**
 * Router memory under traffic over many chats: heap after 1 M and 2 M messages spread over 100,000 chats and
 * 100,000 users, each with a fresh delivery id and no sequence number (as Slack and Discord deliver), through
 * the whole router on the embedded store with default settings. Bounded state shows as a heap that stops
 * growing; unbounded state grows with every message.
 *
 *   npx node test/bench/router-heap.ts [--rounds N] [--messages M]
 *
 * Each round runs this tree and the base tree (`base-tree.ts`: where this branch left main) in fresh processes,
 * interleaved; the figures are medians of the rounds, every round's pair printed, best-of beside.
 * Target: heap at 2 M within 20 MB of heap at 1 M.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, ensureBaseTree, median } from "./base-tree.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = argv.indexOf(name);
  return at === -1 ? fallback : Number(argv[at + 1]);
};
const CHATS = 100_000;
const USERS = 100_000;

interface Figures {
  warmMb: number;
  at1Mb: number;
  at2Mb: number;
}

if (argv[0] === "--worker") {
  const figures = await worker(argv[1]!, flag("--messages", 2_000_000));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
} else {
  const rounds = flag("--rounds", 3);
  const messages = flag("--messages", 2_000_000);
  const base = ensureBaseTree();
  const ours: Figures[] = [];
  const theirs: Figures[] = [];
  const run = (tree: string): Figures =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ["--expose-gc", join(ROOT, "test/bench/router-heap.ts"), "--worker", tree, "--messages", String(messages)],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
      ).trim(),
    ) as Figures;
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so drift on a noisy machine hits both alike.
    if (r % 2 === 0) {
      theirs.push(run(base.dir));
      ours.push(run(ROOT));
    } else {
      ours.push(run(ROOT));
      theirs.push(run(base.dir));
    }
    const [o, t] = [ours.at(-1)!, theirs.at(-1)!];
    console.log(
      `  round ${r + 1}: this tree ${fmt(o.warmMb)} → ${fmt(o.at1Mb)} → ${fmt(o.at2Mb)} MB; base ${base.commit} ${fmt(t.warmMb)} → ${fmt(t.at1Mb)} → ${fmt(t.at2Mb)} MB`,
    );
  }
  const half = (messages / 2 / 1e6).toFixed(1);
  const full = (messages / 1e6).toFixed(1);
  console.log(
    `router heap: ${full} M messages over ${CHATS.toLocaleString("en-US")} chats and users, fresh delivery ids, ${rounds} paired rounds, Node ${process.versions.node}`,
  );
  const row = (label: string, list: Figures[]) => {
    const growth = list.map((f) => f.at2Mb - f.at1Mb);
    return `  ${label.padEnd(22)} after warm-up ${fmt(median(list.map((f) => f.warmMb)))} MB, after ${half} M ${fmt(median(list.map((f) => f.at1Mb)))} MB, after ${full} M ${fmt(median(list.map((f) => f.at2Mb)))} MB; growth ${half} M → ${full} M: ${fmt(median(growth))} MB (best ${fmt(Math.min(...growth))})`;
  };
  console.log(row("this tree:", ours));
  console.log(row(`base ${base.commit}:`, theirs));
  console.log(`  target: growth from ${half} M to ${full} M messages ≤ 20 MB`);
}

function fmt(mb: number): string {
  return mb.toFixed(1);
}

async function worker(tree: string, messages: number): Promise<Figures> {
  const load = (path: string) => import(pathToFileURL(join(tree, path)).href);
  const { createApp } = await load("bot/app/app.ts");
  const { createLogger } = await load("bot/logger.ts");
  const { parseConfig } = await load("config/index.ts");
  const { TestAdapter } = await load("test/helpers/test-adapter.ts");
  const dir = await mkdtemp(join(tmpdir(), "sb-bench-heap-"));
  const config = parseConfig({
    bot: { dataDir: dir },
    http: { enabled: false },
    log: { level: "silent" },
    limits: {
      perUser: { burst: 1_000_000, perMinute: 1_000_000 },
      perChat: { burst: 1_000_000, perMinute: 1_000_000 },
    },
  });
  const adapter = new TestAdapter("bench");
  const app = await createApp({
    config,
    console: false,
    platformAdapters: false,
    plugins: false,
    extraAdapters: [adapter],
    log: createLogger({ level: "silent", format: "json" }),
  });
  await app.start();
  const router = app.core.router;
  const sent = { platform: "bench", chatId: "c", messageId: "m" };
  const respond = async () => sent;
  let seq = 0;
  const message = (i: number) => ({
    deliveryId: `bench:Ev${(++seq).toString(36)}X${seq}`,
    platform: "bench",
    chat: { id: `c${i % CHATS}`, kind: "group", title: "bench" },
    user: { id: `u${(i * 7) % USERS}`, displayName: "bench", platformRole: "member" },
    text: "/whoami",
    command: { name: "whoami", args: [], rawArgs: "" },
    receivedAt: Date.now(),
    respond,
  });
  const send = async (from: number, to: number) => {
    const batch: Promise<void>[] = [];
    for (let i = from; i < to; i += 1_000) {
      batch.length = 0;
      for (let j = i; j < Math.min(to, i + 1_000); j++) batch.push(router.handle(message(j)));
      await Promise.all(batch);
      await router.drain();
    }
  };
  const heapMb = async () => {
    await new Promise((r) => setTimeout(r, 50)); // let background chat records finish
    for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  await send(0, CHATS);
  const warmMb = await heapMb();
  await send(CHATS, messages / 2);
  const at1Mb = await heapMb();
  await send(messages / 2, messages);
  const at2Mb = await heapMb();
  await app.stop();
  await rm(dir, { recursive: true, force: true });
  return { warmMb, at1Mb, at2Mb };
}
