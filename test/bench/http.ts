/**
 * Webhook throughput through the shared HTTP listener: Fastify (`bot/http/`) against the hand-made listener it
 * replaced (kept as `test/bench/baseline-http-listener.ts`, the main branch's `bot/http.ts` at 2e10eb9), in the
 * same process and the same run. One Telegram adapter (webhook mode, secret token checked) and one Slack adapter
 * (HTTP mode, signatures checked) against their stand-ins are each mounted on both listeners, so everything after
 * the listener (the adapter's checks and intake, a counting sink) is the same object for both. A keep-alive
 * client posts signed webhooks, `concurrency` in flight, and counts 200 answers.
 *
 * Rounds alternate baseline and Fastify (which goes first alternates too); the figure is the median of the
 * rounds' ratios, with the best round of each beside it. Target: ratio ≥ 1.0 (no drop). CPU time per request
 * (of this process, which holds the client, both listeners and the adapters) is printed beside it: on a machine
 * shared with other work it moves less than wall-clock rates do.
 *
 *   npx node test/bench/http.ts [requests=4000] [--rounds 7] [--concurrency 16]
 */
import { Agent, request } from "node:http";
import { pino } from "pino";
import { HttpListener } from "../../bot/http/listener.ts";
import type { Inbound } from "../../bot/index.ts";
import { TelegramAdapter } from "../../adapters/telegram/index.ts";
import { SlackAdapter } from "../../adapters/slack/index.ts";
import { TelegramStandIn } from "../stand-ins/telegram/server.ts";
import { testAdapterOptions, testDeps } from "../stand-ins/telegram/harness.ts";
import { SlackStandIn } from "../stand-ins/slack/server.ts";
import { HARNESS_SECRET, slackTestCore, slackTestOptions } from "../stand-ins/slack/harness.ts";
import { commandPayload, slackSignature } from "../stand-ins/slack/sender.ts";
import { BaselineHttpListener } from "./baseline-http-listener.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const REQUESTS = Number(args.find((a) => /^\d+$/.test(a)) ?? 4_000);
const ROUNDS = flag("rounds", 7);
const CONCURRENCY = flag("concurrency", 16);
const SECRET = "bench-secret-token";
const log = pino({ level: "silent" });

/** One webhook request: path, headers and body. */
interface Shot {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** One round's figures: requests per wall-clock second, and CPU microseconds per request (client and server). */
interface Round {
  perSec: number;
  cpuUsPerRequest: number;
}

/** Post `shots` with `concurrency` in flight on a keep-alive agent. */
async function fire(port: number, shots: Shot[], agent: Agent): Promise<Round> {
  let next = 0;
  let failed = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < shots.length) {
      const shot = shots[next++]!;
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, path: shot.path, method: "POST", headers: shot.headers, agent },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(shot.body);
      });
      if (status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (failed > 0) throw new Error(`${failed} of ${shots.length} webhooks were not answered 200`);
  return {
    perSec: Math.round((shots.length / ms) * 1_000),
    cpuUsPerRequest: Math.round((used.user + used.system) / shots.length),
  };
}

let updateId = 1;
function telegramShots(n: number): Shot[] {
  return Array.from({ length: n }, () => {
    const id = updateId++;
    const chat = 1000 + (id % 100);
    return {
      path: "/telegram/webhook",
      headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET },
      body: JSON.stringify({
        update_id: id,
        message: {
          message_id: id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: chat, type: "private", first_name: "U" },
          from: { id: chat, is_bot: false, first_name: "U" },
          text: "/help",
          entities: [{ type: "bot_command", offset: 0, length: 5 }],
        },
      }),
    };
  });
}

let trigger = 1;
function slackShots(n: number): Shot[] {
  const ts = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, () => {
    const i = trigger++;
    const body = new URLSearchParams(
      commandPayload({
        command: "/help",
        user_id: "U0000001",
        channel_id: `D${String(i % 50).padStart(8, "0")}`,
        trigger_id: `trig-${i}`,
      }),
    ).toString();
    return {
      path: "/slack/events",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": slackSignature(HARNESS_SECRET, ts, body),
      },
      body,
    };
  });
}

/** Both listeners on their own ports, each with the platform's routes mounted. */
interface Pair {
  name: string;
  shots(n: number): Shot[];
  fastifyPort: number;
  baselinePort: number;
  close(): Promise<void>;
}

async function listeners(mount: (http: Parameters<TelegramAdapter["mount"]>[0]) => void) {
  const fastify = new HttpListener({ log, maxBodyBytes: 1_048_576 });
  mount(fastify);
  const fastifyPort = (await fastify.listen("127.0.0.1", 0)).port;
  await fastify.serve();
  const baseline = new BaselineHttpListener({ log, maxBodyBytes: 1_048_576 });
  mount({ route: (m, p, h) => baseline.route(m, p, h), api: () => undefined });
  const baselinePort = (await baseline.listen("127.0.0.1", 0)).port;
  return { fastifyPort, baselinePort, close: () => Promise.all([fastify.close(), baseline.close()]) };
}

const countingSink = (counter: { n: number }) => async (_inbound: Inbound) => {
  counter.n++;
};

async function telegramPair(counter: { n: number }): Promise<Pair> {
  const standIn = await TelegramStandIn.start();
  const adapter = new TelegramAdapter(
    testAdapterOptions(standIn, { mode: "webhook", webhookSecret: SECRET }),
    testDeps(),
  );
  await adapter.start(countingSink(counter));
  const l = await listeners((http) => adapter.mount(http));
  return {
    name: "Telegram",
    shots: telegramShots,
    ...l,
    async close() {
      await l.close();
      await adapter.stop();
      await standIn.close();
    },
  };
}

async function slackPair(counter: { n: number }): Promise<Pair> {
  const standIn = await new SlackStandIn({ users: [{ id: "U0000001", name: "alice" }] }).start();
  const adapter = new SlackAdapter(slackTestCore(), slackTestOptions(standIn));
  const l = await listeners((http) => adapter.mount(http));
  await adapter.start(countingSink(counter));
  return {
    name: "Slack",
    shots: slackShots,
    ...l,
    async close() {
      await l.close();
      await adapter.stop();
      await standIn.stop();
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function bench(pair: Pair, counter: { n: number }): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    // Warm both (JIT, sockets, caches).
    await fire(pair.baselinePort, pair.shots(Math.min(1_000, REQUESTS)), agent);
    await fire(pair.fastifyPort, pair.shots(Math.min(1_000, REQUESTS)), agent);
    const baseRounds: Round[] = [];
    const ourRounds: Round[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const runBase = async () => baseRounds.push(await fire(pair.baselinePort, pair.shots(REQUESTS), agent));
      const runOurs = async () => ourRounds.push(await fire(pair.fastifyPort, pair.shots(REQUESTS), agent));
      if (r % 2 === 0) {
        await runBase();
        await runOurs();
      } else {
        await runOurs();
        await runBase();
      }
      ratios.push(ourRounds.at(-1)!.perSec / baseRounds.at(-1)!.perSec);
      cpuRatios.push(ourRounds.at(-1)!.cpuUsPerRequest / baseRounds.at(-1)!.cpuUsPerRequest);
    }
    const base = baseRounds.map((x) => x.perSec);
    const ours = ourRounds.map((x) => x.perSec);
    const baseCpu = baseRounds.map((x) => x.cpuUsPerRequest);
    const ourCpu = ourRounds.map((x) => x.cpuUsPerRequest);
    const ratio = median(ratios);
    return [
      `${pair.name} webhooks (${REQUESTS} per round, ${CONCURRENCY} in flight, ${ROUNDS} paired rounds, ${counter.n} delivered to the sink)`,
      `  hand-made listener  median ${median(base).toLocaleString("en")}/s (best ${Math.max(...base).toLocaleString("en")})`,
      `  Fastify             median ${median(ours).toLocaleString("en")}/s (best ${Math.max(...ours).toLocaleString("en")})`,
      `  ratio Fastify / hand-made: median of paired rounds ${ratio.toFixed(2)}, best-of ${(Math.max(...ours) / Math.max(...base)).toFixed(2)}  (target ≥ 1.00: ${ratio >= 1 ? "met" : "NOT met"})`,
      `  CPU per request (client and server, this process): hand-made median ${median(baseCpu)} µs (best ${Math.min(...baseCpu)}), Fastify median ${median(ourCpu)} µs (best ${Math.min(...ourCpu)}); ratio median of paired rounds ${median(cpuRatios).toFixed(2)} (lower is better)`,
    ].join("\n");
  } finally {
    agent.destroy();
  }
}

const telegramCount = { n: 0 };
const telegram = await telegramPair(telegramCount);
try {
  console.log(await bench(telegram, telegramCount));
} finally {
  await telegram.close();
}
const slackCount = { n: 0 };
const slack = await slackPair(slackCount);
try {
  console.log(await bench(slack, slackCount));
} finally {
  await slack.close();
}
process.exit(0);
