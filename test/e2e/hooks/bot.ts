/**
 * The whole bot with the hooks plugin and the Telegram adapter against a fresh stand-in, and helpers to create
 * hooks the way an admin does (`/hooks add` in a group, the secret arriving in a DM) and to post to them.
 */
import { createApp, type App } from "../../../bot/app/app.ts";
import { pickServices, systemClock } from "../../../bot/index.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore, openStore } from "../../../bot/storage/open.ts";
import { parseConfig, setPath } from "../../../config/index.ts";
import {
  createHooksPlugin,
  HookRegistry,
  HOOKS_MIGRATIONS,
  HOOKS_NEEDS,
  type HooksPlugin,
} from "../../../hooks/index.ts";
import { secretBox } from "../../../hooks/secrets.ts";
import { HookRepo } from "../../../hooks/store.ts";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";

/** A 32-byte test key (hex). */
export const TEST_KEY = "ab".repeat(32);

/** A started bot with hooks, and its stand-in. */
export interface HooksBot {
  app: App;
  standIn: TelegramStandIn;
  hooks: HooksPlugin;
  httpUrl: string;
  stop(): Promise<void>;
}

/** Start the bot; `set` overrides config by dotted path. */
export async function startHooksBot(
  set: Record<string, unknown> = {},
  consoleStreams?: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream },
): Promise<HooksBot> {
  const standIn = await TelegramStandIn.start();
  const raw: Record<string, unknown> = {};
  const settings: Record<string, unknown> = {
    "http.port": 0,
    "log.level": process.env.TEST_LOG_LEVEL ?? "silent",
    "adapters.console.enabled": consoleStreams !== undefined,
    "adapters.telegram.token": standIn.token,
    "adapters.telegram.apiRoot": standIn.apiRoot,
    "adapters.telegram.pollTimeoutSeconds": 1,
    "adapters.telegram.outbound": { globalPerSecond: 200, perChatIntervalMs: 20, perGroupPerMinute: 600 },
    "hooks.secretKey": TEST_KEY,
    ...set,
  };
  for (const [k, v] of Object.entries(settings)) setPath(raw, k, v);
  const config = parseConfig(raw);
  const store = await memoryStore();
  let hooks: HooksPlugin | undefined;
  const app = await createApp({
    config,
    console: consoleStreams ?? false,
    store,
    log: createLogger({ level: config.log.level, format: "json" }),
    plugins: [
      async (core) => {
        hooks = await createHooksPlugin(pickServices(core, HOOKS_NEEDS));
        return hooks;
      },
    ],
  });
  await app.start();
  const address = app.httpAddress()!;
  return {
    app,
    standIn,
    hooks: hooks!,
    httpUrl: `http://${address.host}:${address.port}`,
    async stop() {
      await app.stop();
      await store.close();
      await standIn.close();
    },
  };
}

/** `/hooks add …` typed by an admin of a group; resolves with the hook's id and secret from the DM. */
export async function addHookInGroup(
  bot: HooksBot,
  o: { chatId: number; userId: number; line: string },
): Promise<{ id: string; secret: string }> {
  const { standIn } = bot;
  standIn.setMember(o.chatId, o.userId, "administrator");
  const before = standIn.messagesIn(o.userId).length;
  const inGroup = standIn.messagesIn(o.chatId).length;
  standIn.queueMessage({ chatId: o.chatId, chatType: "supergroup", userId: o.userId, text: o.line });
  await standIn.waitFor(() => standIn.messagesIn(o.userId).length > before, 10_000, "the hook's secret in a DM");
  await standIn.waitFor(() => standIn.messagesIn(o.chatId).length > inGroup, 10_000, "the answer in the group");
  const text = standIn.messagesIn(o.userId).at(-1)!.text;
  const id = /\/hooks\/([A-Za-z0-9_-]+)/.exec(text)?.[1];
  const secret = /Secret: (\S+)/.exec(text)?.[1];
  if (id === undefined || secret === undefined) throw new Error(`no URL and secret in: ${text}`);
  return { id, secret };
}

/** POST a body to a hook; answers status, headers and body. */
export async function postHook(
  bot: HooksBot,
  o: { id: string; body: string; headers: Record<string, string> },
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${bot.httpUrl}/hooks/${o.id}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...o.headers },
    body: o.body,
  });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Where a spawned bot keeps its data (`CrashStore` of the journal's harness). */
interface StoredData {
  env: Record<string, string>;
  dataDir: string;
}

/** Open the store a spawned bot uses: its embedded folder, or its PostgreSQL database. */
export async function openFor(store: StoredData) {
  return openStore(
    store.env.DATABASE_URL === undefined
      ? { dataDir: store.dataDir }
      : { dataDir: store.dataDir, databaseUrl: store.env.DATABASE_URL },
  );
}

/** Create a generic hook to a Telegram chat the way `/hooks add` does, on a spawned bot's store before it starts. */
export async function createStoredHook(
  store: StoredData,
  { chat, name }: { chat: number; name: string },
): Promise<{ id: string; secret: string }> {
  const db = await openFor(store);
  try {
    await db.migrate(HOOKS_MIGRATIONS);
    const registry = new HookRegistry({
      repo: new HookRepo(db.sql),
      box: secretBox({ secretKey: TEST_KEY, dataDir: store.dataDir, isShared: false }),
      clock: systemClock,
      audit: (entry) => db.audit.append({ ...entry, at: Date.now() }),
      maxPerChat: 20,
    });
    const hook = await registry.create({
      chatKey: `telegram:${chat}`,
      name,
      template: "generic",
      target: { platform: "telegram", chatId: String(chat) },
      actor: "telegram:1",
    });
    return { id: hook.id, secret: hook.secret };
  } finally {
    await db.close();
  }
}
