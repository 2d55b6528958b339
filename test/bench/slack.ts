/**
 * Slack throughput: slash commands fed to Bolt's `processEvent` → the Slack adapter → the router → the built-in
 * `/whoami` → the reply handed to the Web API client (a stand-in `fetch`, no network), against raw Bolt with a
 * bare `app.command` handler that acks and posts a reply through the same client, in the same run.
 *
 *   npx node test/bench/slack.ts            (MESSAGES=5000 by default)
 *
 * Both paths are warmed, then measured in alternating rounds; the best round of each is compared.
 * `test/bench/adapters.ts` runs it alongside the other platforms.
 */
import { formatPaired, pairedRounds, type Paired } from "./paired.ts";
import { App, LogLevel, type Logger as BoltLogger, type ReceiverEvent } from "@slack/bolt";
import { createSlackAdapter, type SlackAdapter } from "../../adapters/slack/index.ts";
import { createApp } from "../../bot/app/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { parseConfig } from "../../config/index.ts";

/** Both rates and their ratio. */
export interface SlackBenchResult {
  messages: number;
  /** Baseline and Switchboard rates, one pair per round. */
  paired: Paired;
}

const quiet: BoltLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

/** A stand-in Web API in-process: answers every method at once and counts chat.postMessage calls. */
function standInFetch(): { fetch: typeof fetch; posts(): number; onPost(n: number): Promise<void> } {
  let posts = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  let ts = 0;
  const fetchFn = (async (input: string | URL | Request) => {
    const method = String(input).split("/").pop()!;
    let body: Record<string, unknown> = { ok: true };
    if (method === "chat.postMessage") {
      posts += 1;
      ts += 1;
      body = { ok: true, channel: "C1", ts: `1700000000.${String(ts).padStart(6, "0")}` };
      if (waiter !== undefined && posts >= waiter.n) waiter.resolve();
    } else if (method === "users.info") {
      body = { ok: true, user: { id: "U1", name: "alice", is_admin: false, is_owner: false } };
    } else if (method === "auth.test") {
      body = { ok: true, user_id: "UBOT", bot_id: "BBOT", team_id: "T1" };
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  return {
    fetch: fetchFn,
    posts: () => posts,
    onPost: (n) =>
      posts >= n
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiter = { n, resolve };
          }),
  };
}

function commandBody(i: number): Record<string, unknown> {
  return {
    token: "t",
    team_id: "T1",
    team_domain: "bench",
    channel_id: `C${i % 50}`,
    channel_name: "bench",
    user_id: `U${i % 20}`,
    user_name: "alice",
    command: "/whoami",
    text: "",
    api_app_id: "A1",
    is_enterprise_install: "false",
    response_url: "http://127.0.0.1:9/unused",
    trigger_id: `trig-${i}`,
  };
}

/** Feed `n` commands, a window of `concurrency` at a time, and wait for `n` posts. */
async function drive(
  { feed: processEvent, api }: Pick<Driver, "feed" | "api">,
  n: number,
  offset: number,
): Promise<number> {
  const target = api.posts() + n;
  const done = api.onPost(target);
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < n; i++) {
    const p = processEvent({ body: commandBody(offset + i), ack: async () => undefined });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= 64) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await done;
  return Math.round((n / (performance.now() - started)) * 1_000);
}

type Driver = { feed(e: ReceiverEvent): Promise<void>; api: ReturnType<typeof standInFetch>; close(): Promise<void> };

/** Raw Bolt: `app.command` acks and posts a reply. */
async function boltBaseline(): Promise<Driver> {
  const api = standInFetch();
  const receiver = { init: () => undefined, start: async () => undefined, stop: async () => undefined };
  const app = new App({
    token: "xoxb-bench",
    botId: "BBOT",
    botUserId: "UBOT",
    receiver,
    logger: quiet,
    tokenVerificationEnabled: false,
    clientOptions: { slackApiUrl: "http://127.0.0.1:9/api/", fetch: api.fetch, retryConfig: { retries: 0 } },
  });
  app.command(/.*/, async ({ ack, client, command }) => {
    await ack();
    await client.chat.postMessage({ channel: command.channel_id, text: `Platform: slack\nUser: ${command.user_name}` });
  });
  return { feed: (e) => app.processEvent(e), api, close: async () => undefined };
}

/** Switchboard: the Slack adapter inside the whole bot, fed through its Bolt app. */
async function switchboard(): Promise<Driver> {
  const api = standInFetch();
  const config = parseConfig({
    http: { enabled: false },
    log: { level: "silent" },
    limits: {
      perUser: { burst: 1_000_000, perMinute: 60_000_000 },
      perChat: { burst: 1_000_000, perMinute: 60_000_000 },
    },
    adapters: {
      console: { enabled: false },
      slack: { token: "xoxb-bench", signingSecret: "bench", apiUrl: "http://127.0.0.1:9/api/" },
    },
  });
  let adapter: SlackAdapter | undefined;
  const store = await memoryStore();
  const app = await createApp({
    config,
    console: false,
    platformAdapters: false,
    plugins: false,
    store,
    exitOnConsoleEnd: false,
    log: createLogger({ level: "silent", format: "json" }),
    extraAdapters: (core) => {
      adapter = createSlackAdapter(core, {
        // Unlimited budgets: the limiter stays on the path, but Slack's real 1/s per channel would measure the clock.
        outboundLimits: { globalPerSecond: 0, perChatIntervalMs: 0 },
        clientOptions: { fetch: api.fetch, retryConfig: { retries: 0 } },
      }) as SlackAdapter;
      return [adapter];
    },
  });
  await app.start();
  const bolt = adapter!.app!;
  return {
    feed: (e) => bolt.processEvent(e),
    api,
    async close() {
      await app.stop();
      await store.close();
    },
  };
}

/** Run both, warmed, in paired rounds (drift on a noisy machine hits both alike). */
export async function benchSlack(
  n = Number(process.env.MESSAGES ?? 5_000),
  rounds = Number(process.env.BENCH_ROUNDS ?? 10),
): Promise<SlackBenchResult> {
  const bolt = await boltBaseline();
  const sb = await switchboard();
  try {
    let offset = 0;
    await drive(bolt, Math.min(1_000, n), (offset += n));
    await drive(sb, Math.min(1_000, n), (offset += n));
    const paired = await pairedRounds(
      rounds,
      () => drive(bolt, n, (offset += n)),
      () => drive(sb, n, (offset += n)),
    );
    return { messages: n, paired };
  } finally {
    await bolt.close();
    await sb.close();
  }
}

/** One line per figure, as the bench scripts print them. */
export function formatSlackBench(r: SlackBenchResult): string {
  return [
    `slack (${r.messages} slash commands per round, processEvent → reply handed to the Web API client):`,
    ...formatPaired(r.paired, { baseLabel: "raw Bolt", oursLabel: "Switchboard", unit: "msg/s", target: 0.5 }),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatSlackBench(await benchSlack()));
}
