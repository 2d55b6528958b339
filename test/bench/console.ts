/**
 * The web console's figures:
 *
 * 1. **Bundle**: what the first load fetches (`web/dist/index.html` and the files it names), raw and gzipped.
 *    Target ≤ 200 KB gzipped.
 * 2. **First render in Chromium**: from navigation to the dashboard's heading, and to its three charts drawn
 *    (canvas), signed in, against a real bot. Paired with a baseline in the same browser and the same server: a
 *    plain-text page (`/healthz`), so the browser's own cost is visible. Printed, no target.
 * 3. **Usage API over 1,000,000 usage rows**: `GET /api/usage?groupBy=day` for 90 days on the embedded store
 *    (SQLite in a data folder). The API reads the daily aggregate `llm_usage` (one row per day, chat and user),
 *    never the turns. Two shapes: (a) 1,000,000 turns by 1,000 people in 50 chats, kept as 90,000 aggregate rows
 *    (what the bot writes: one upsert per turn); (b) the worst case, 1,000,000 distinct aggregate rows (11,112
 *    chat-and-person pairs active every day). Paired with `GET /api/auth/me` (the same server, sign-in and
 *    serialization, no query) as the baseline. Target ≤ 100 ms.
 *
 * Each figure is the median of paired rounds (baseline and ours interleaved, which goes first alternating) with
 * the best round beside it.
 *
 *   npx node test/bench/console.ts [--rounds 9] [--skip-browser] [--skip-usage]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { openStore } from "../../bot/index.ts";
import { createLlmPlugin } from "../../llm/index.ts";
import { USAGE_DAYS_BACKFILL } from "../../llm/store.ts";
import { startTestBot, type TestBot } from "../helpers/app.ts";
import { CHROMIUM_PATH, launchChromium } from "../helpers/browser.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const ROUNDS = flag("rounds", 9);
const DAY_MS = 86_400_000;
const ROOT = resolve(import.meta.dirname, "..", "..");

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;

/** Run baseline and ours `ROUNDS` times, interleaved, which goes first alternating. */
async function paired(
  baseline: () => Promise<number>,
  ours: () => Promise<number>,
): Promise<{ base: number[]; ours: number[] }> {
  const out = { base: [] as number[], ours: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      out.base.push(await baseline());
      out.ours.push(await ours());
    } else {
      out.ours.push(await ours());
      out.base.push(await baseline());
    }
  }
  return out;
}

function bundle(): void {
  const dist = join(ROOT, "web", "dist");
  const html = readFileSync(join(dist, "index.html"));
  const files = [...html.toString().matchAll(/(?:src|href)="\/console\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
  let raw = html.length;
  let gz = gzipSync(html).length;
  for (const f of files) {
    const body = readFileSync(join(dist, f));
    raw += body.length;
    gz += gzipSync(body).length;
  }
  console.log("\n1. Console bundle, first load (index.html + %d files)", files.length);
  console.log(`   raw ${(raw / 1024).toFixed(1)} KB, gzipped ${(gz / 1024).toFixed(1)} KB   target ≤ 200 KB gzipped`);
}

async function firstRender(): Promise<void> {
  if (!existsSync(CHROMIUM_PATH)) {
    console.log(`\n2. First render: skipped, ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);
    return;
  }
  const bot = await startTestBot({
    set: { "bot.owners": ["test:owner"], "http.apiRatePerMinute": 100_000 },
    plugins: [(core) => createLlmPlugin(core)],
  });
  const chromium = await launchChromium();
  try {
    const base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
    const page = await chromium.context.newPage();
    const { url } = await bot.app.admin.signInLink({ userKey: "test:owner", displayName: "owner" });
    await page.goto(url);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: 60_000 });
    const heading: number[] = [];
    const load = async (path: string, until: () => Promise<unknown>): Promise<number> => {
      await page.goto("about:blank");
      const started = performance.now();
      await page.goto(`${base}${path}`);
      await until();
      return performance.now() - started;
    };
    const rounds = await paired(
      () => load("/healthz", () => Promise.resolve()),
      async () => {
        let headingMs = 0;
        const started = performance.now();
        const total = await load("/console/", async () => {
          await page.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: 60_000 });
          headingMs = performance.now() - started;
          await page.locator(".chart canvas").nth(2).waitFor({ timeout: 60_000 });
        });
        heading.push(headingMs);
        return total;
      },
    );
    console.log(`\n2. First render in Chromium (${ROUNDS} paired rounds, headless, signed in)`);
    console.log(
      `   baseline /healthz (plain text)         median ${ms(median(rounds.base))} (best ${ms(Math.min(...rounds.base))})`,
    );
    console.log(
      `   dashboard heading                      median ${ms(median(heading))} (best ${ms(Math.min(...heading))})`,
    );
    console.log(
      `   dashboard with its three charts drawn  median ${ms(median(rounds.ours))} (best ${ms(Math.min(...rounds.ours))})`,
    );
  } finally {
    await chromium.close();
    await bot.stop();
  }
}

/** Fill `llm_usage` with `rows` aggregate rows over 90 days: `pairs` chat-and-person pairs a day. */
async function seedUsage(bot: TestBot, o: { pairs: number; turnsPerRow: number; today: number }): Promise<number> {
  const sql = bot.app.core.store.sql;
  let rows = 0;
  const batch: unknown[][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const params: unknown[] = [];
    const values = batch.map((r) => {
      const at = params.length;
      params.push(...r);
      return `(${r.map((_, i) => `$${at + i + 1}`).join(", ")})`;
    });
    await sql.query(
      `INSERT INTO llm_usage (day, chat_key, user_key, input_tokens, output_tokens, cost, turns) VALUES ${values.join(", ")}`,
      params,
    );
    batch.length = 0;
  };
  await sql.query("DELETE FROM llm_usage");
  for (let d = 0; d < 90; d++) {
    const day = new Date(o.today - d * DAY_MS).toISOString().slice(0, 10);
    for (let p = 0; p < o.pairs; p++) {
      batch.push([
        day,
        `bench:chat-${p % 50}`,
        `bench:user-${p}`,
        120 * o.turnsPerRow,
        40 * o.turnsPerRow,
        0.0003 * o.turnsPerRow,
        o.turnsPerRow,
      ]);
      rows++;
      if (batch.length === 400) await flush();
    }
  }
  await flush();
  // The bot-wide day totals the same turns would have kept, rebuilt as the migration does.
  await sql.query("DELETE FROM llm_usage_days");
  await sql.query(USAGE_DAYS_BACKFILL);
  return rows;
}

async function usageApi(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-bench-console-"));
  const store = await openStore({ dataDir });
  const bot = await startTestBot({
    store,
    set: { "bot.owners": ["test:owner"], "http.apiRatePerMinute": 100_000 },
    plugins: [(core) => createLlmPlugin(core)],
  });
  try {
    const base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
    const { token } = await bot.app.admin.credentials.createToken(
      { userKey: "test:owner", displayName: "owner" },
      { name: "bench", scopes: ["read"] },
    );
    const headers = { authorization: `Bearer ${token}` };
    const today = Date.now();
    const from = new Date(today - 89 * DAY_MS).toISOString().slice(0, 10);
    const to = new Date(today).toISOString().slice(0, 10);
    const time = async (path: string, check?: (body: unknown) => void): Promise<number> => {
      const started = performance.now();
      // A keep-alive socket left idle through seeding may be closed by the server: retry once on a fresh one.
      const res = await fetch(`${base}${path}`, { headers }).catch(() => fetch(`${base}${path}`, { headers }));
      const body = await res.json();
      const took = performance.now() - started;
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
      check?.(body);
      return took;
    };
    console.log("\n3. Usage API, per-day aggregates for 90 days, embedded store (SQLite file)");
    for (const shape of [
      { label: "(a) 1,000,000 turns as 90,000 aggregate rows", pairs: 1_000, turnsPerRow: 11 },
      { label: "(b) 1,000,000 distinct aggregate rows", pairs: 11_112, turnsPerRow: 1 },
    ]) {
      const seeded = performance.now();
      const rows = await seedUsage(bot, { ...shape, today });
      const seedMs = performance.now() - seeded;
      const check = (body: unknown) => {
        const days = (body as { rows: unknown[] }).rows.length;
        if (days !== 90) throw new Error(`expected 90 days, got ${days}`);
      };
      await time(`/api/usage?groupBy=day&from=${from}&to=${to}`, check);
      const r = await paired(
        () => time("/api/auth/me"),
        () => time(`/api/usage?groupBy=day&from=${from}&to=${to}`, check),
      );
      console.log(
        `   ${shape.label} (${rows.toLocaleString("en-US")} rows, seeded in ${(seedMs / 1000).toFixed(1)} s)`,
      );
      console.log(`     baseline /api/auth/me   median ${ms(median(r.base))} (best ${ms(Math.min(...r.base))})`);
      console.log(
        `     /api/usage, 90 days     median ${ms(median(r.ours))} (best ${ms(Math.min(...r.ours))})   target ≤ 100 ms`,
      );
    }
  } finally {
    await bot.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

bundle();
if (!args.includes("--skip-browser")) await firstRender();
if (!args.includes("--skip-usage")) await usageApi();
