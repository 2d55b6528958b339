/**
 * Discord throughput: INTERACTION_CREATE dispatches (application commands) → the Discord adapter (normalise,
 * dedupe, platform role, responder) → the router → the built-in `/whoami` → the interaction callback handed
 * to the REST client, whose HTTP layer answers 204 in-process (no network). Baseline in the same run: raw
 * discord.js — the same dispatch through its InteractionCreate action to a bare `interactionCreate` handler
 * that replies through the same kind of REST client.
 *
 *   npx node test/bench/discord.ts            (MESSAGES=5000 by default)
 *
 * `test/bench/adapters.ts` runs it alongside the other platforms.
 */
import { formatPaired, pairedRounds, type Paired } from "./paired.ts";
import { Client, Events, type ChatInputCommandInteraction } from "discord.js";
import { createDiscordAdapter, type DiscordAdapter, type GatewayDispatch } from "../../adapters/discord/index.ts";
import { createApp } from "../../bot/app/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { parseConfig } from "../../config/index.ts";
import { guildCreatePayload, interactionPayload, wireUser, type WireUser } from "../stand-ins/discord/payloads.ts";

/** Both rates and their ratio. */
export interface DiscordBenchResult {
  messages: number;
  /** Baseline and Switchboard rates, one pair per round. */
  paired: Paired;
}

const APP_ID = "900000000000000001";
const GUILD_ID = "900000000000000002";
const USERS: WireUser[] = Array.from({ length: 20 }, (_, i) =>
  wireUser(String(910_000_000_000_000_000n + BigInt(i)), `user${i}`),
);
const CHANNELS = Array.from({ length: 50 }, (_, i) => String(920_000_000_000_000_000n + BigInt(i)));
const GUILD = {
  id: GUILD_ID,
  name: "bench",
  owner_id: USERS[0]!.id,
  roles: [{ id: GUILD_ID, name: "@everyone", permissions: "3072", position: 0 }],
};

/**
 * An in-process Discord HTTP layer: 204 for interaction callbacks, the edited message for `@original`, the
 * guild for role lookups. Counts answers: a type-4 callback, or the edit that fills a deferred (type-5) one.
 */
function standInHttp(): {
  makeRequest(url: string, init: unknown): Promise<Response>;
  answers(): number;
  onAnswers(n: number): Promise<void>;
} {
  let answers = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  const answered = () => {
    answers += 1;
    if (waiter !== undefined && answers >= waiter.n) waiter.resolve();
  };
  return {
    async makeRequest(url: string, init: unknown) {
      if (url.includes("/callback")) {
        const body = String((init as { body?: unknown } | undefined)?.body ?? "");
        if (body.startsWith('{"type":4')) answered();
        return new Response(null, { status: 204 });
      }
      if (url.includes("/messages/%40original") || url.includes("/messages/@original")) {
        answered();
        return Response.json({ id: "1", channel_id: CHANNELS[0] });
      }
      if (url.includes(`/guilds/${GUILD_ID}`)) return Response.json(guildCreatePayload(GUILD, CHANNELS, []));
      if (url.includes("/commands")) return Response.json([]);
      return Response.json({ message: "404: Not Found", code: 0 }, { status: 404 });
    },
    answers: () => answers,
    onAnswers: (n) =>
      answers >= n
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiter = { n, resolve };
          }),
  };
}

function dispatch(i: number): GatewayDispatch {
  return {
    t: "INTERACTION_CREATE",
    s: i,
    d: interactionPayload({
      name: "whoami",
      user: USERS[i % USERS.length]!,
      guildId: GUILD_ID,
      channelId: CHANNELS[i % CHANNELS.length]!,
      applicationId: APP_ID,
      id: String(930_000_000_000_000_000n + BigInt(i)),
    }),
  };
}

const WINDOW = 128;

/** Feed `n` dispatches, at most WINDOW unanswered at a time, and wait for `n` answers; returns dispatches per second. */
async function drive({ feed, http }: Pick<Path, "feed" | "http">, n: number, offset: number): Promise<number> {
  const base = http.answers();
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    if (i - (http.answers() - base) >= WINDOW) await http.onAnswers(base + i - WINDOW / 2);
    feed(dispatch(offset + i));
  }
  await http.onAnswers(base + n);
  return Math.round((n / (performance.now() - started)) * 1_000);
}

/** A path under test: feed, its HTTP layer, and cleanup. */
interface Path {
  feed(packet: GatewayDispatch): void;
  http: ReturnType<typeof standInHttp>;
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Raw discord.js: the gateway's InteractionCreate action and a bare handler that replies. */
async function discordJsBaseline(): Promise<Path> {
  const http = standInHttp();
  const client = new Client({
    intents: [],
    rest: { makeRequest: http.makeRequest as never, globalRequestsPerSecond: 1_000_000 },
  });
  client.rest.setToken("bench-token");
  client.on(Events.InteractionCreate, (interaction) => {
    if (!interaction.isChatInputCommand()) return;
    const i = interaction as ChatInputCommandInteraction;
    void i.reply(`Platform: discord\nUser: ${i.user.username} (\`discord:${i.user.id}\`)\nChat: ${i.channelId}`);
  });
  const actions = (client as unknown as { actions: { InteractionCreate: { handle(data: unknown): void } } }).actions;
  return {
    feed: (packet) => actions.InteractionCreate.handle(packet.d),
    http,
    settle: async () => undefined,
    close: () => client.destroy(),
  };
}

/** Switchboard: the Discord adapter inside the whole bot, fed the same dispatches. */
async function switchboard(): Promise<Path> {
  const http = standInHttp();
  const config = parseConfig({
    http: { enabled: false },
    log: { level: "silent" },
    limits: {
      perUser: { burst: 1_000_000, perMinute: 60_000_000 },
      perChat: { burst: 1_000_000, perMinute: 60_000_000 },
    },
    adapters: {
      console: { enabled: false },
      discord: {
        // Interactions mode opens no gateway connection; dispatches are fed exactly as the gateway would feed them.
        token: "bench-token",
        applicationId: APP_ID,
        apiRoot: "http://127.0.0.1:9/api",
        mode: "interactions",
        publicKey: "ab".repeat(32),
      },
    },
  });
  let adapter: DiscordAdapter | undefined;
  const store = await memoryStore();
  const app = await createApp({
    config,
    console: false,
    platformAdapters: false,
    plugins: false,
    store,
    exitOnConsoleEnd: false,
    log: createLogger({
      level: process.env.BENCH_LOG === undefined ? "silent" : (process.env.BENCH_LOG as "warn"),
      format: "json",
    }),
    extraAdapters: (core) => {
      adapter = createDiscordAdapter(core, {
        outboundLimits: { globalPerSecond: 0, perChatIntervalMs: 0 },
        makeRequest: http.makeRequest as never,
      }) as DiscordAdapter;
      return [adapter];
    },
  });
  await app.start();
  return {
    feed: (packet) => adapter!.handleDispatch(packet),
    http,
    settle: () => app.core.router.drain(), // the last handlers finish just after their answer left
    async close() {
      await app.stop();
      await store.close();
    },
  };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);

/** Run both: warm each, then alternate rounds (drift on a noisy machine hits both alike), best of each. */
export async function benchDiscord(n = Number(process.env.MESSAGES ?? 5_000)): Promise<DiscordBenchResult> {
  const raw = await discordJsBaseline();
  const sb = await switchboard();
  try {
    let offset = 0;
    const round = async (path: Path, count: number) => {
      const rate = await drive(path, count, offset);
      offset += count;
      await path.settle();
      return rate;
    };
    await round(raw, Math.min(1_000, n));
    await round(sb, Math.min(1_000, n));
    const paired = await pairedRounds(
      ROUNDS,
      () => round(raw, n),
      () => round(sb, n),
    );
    return { messages: n, paired };
  } finally {
    await raw.close();
    await sb.close();
  }
}

/** One line per figure, as the bench scripts print them. */
export function formatDiscordBench(r: DiscordBenchResult): string {
  return [
    `discord (${r.messages} application commands per round; gateway dispatch → interaction answer handed to REST):`,
    ...formatPaired(r.paired, { baseLabel: "raw discord.js", oursLabel: "Switchboard", unit: "msg/s", target: 0.5 }),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatDiscordBench(await benchDiscord()));
}
