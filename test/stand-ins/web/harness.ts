/**
 * The web chat adapter on a real listener with real console sessions (embedded store), read by a stream client as
 * a browser tab reads it. The platform's state is the adapter's chat log: what a page that reads the stream
 * shows. Its refusals are the real ones: the person closed the chat (a permanent refusal), or nobody read the
 * chat's last `maxUnreadEvents` events (a refusal with retry-after, until a stream reads them).
 */
import { pino } from "pino";
import { ConsoleCredentials, SESSION_COOKIE } from "../../../bot/admin/index.ts";
import { HttpListener } from "../../../bot/http/listener.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { systemClock, type Inbound, type Store } from "../../../bot/index.ts";
import { WebChatAdapter, webChatIdOf, webHtml, webHtmlToText } from "../../../adapters/web/index.ts";
import type { WebChatFileLimits, WebChatLimits } from "../../../adapters/web/index.ts";
import type { AdapterHarness, ContractMessage } from "../../contract/adapter.contract.ts";
import { RecordingSink } from "../../helpers/recording-sink.ts";
import { WebChatClient } from "./client.ts";

/** A started web chat adapter on its own listener, and a way to sign people in. */
export interface WebChatRig {
  adapter: WebChatAdapter;
  sink: RecordingSink;
  base: string;
  credentials: ConsoleCredentials;
  store: Store;
  /** A fresh session for this person, as a stream client (not yet connected). */
  signIn(userKey: string): Promise<WebChatClient>;
  close(): Promise<void>;
}

/** Start the adapter on a listener of its own, with sessions from a real credentials table. */
export async function startWebChat(
  limits: Partial<WebChatLimits> = {},
  files: Partial<WebChatFileLimits> = {},
): Promise<WebChatRig> {
  const store = await memoryStore();
  const credentials = new ConsoleCredentials({ sql: store.sql, clock: systemClock, sessionTtlMs: 3_600_000 });
  const http = new HttpListener({ log: pino({ level: "silent" }), maxBodyBytes: 1_000_000, apiRatePerMinute: 100_000 });
  const address = await http.listen("127.0.0.1", 0);
  const adapter = new WebChatAdapter({ limits, files });
  adapter.mount(http);
  http.setAuthenticator({
    cookieName: SESSION_COOKIE,
    async authenticate({ bearer, sessionCookie }) {
      if (bearer !== undefined) {
        const principal = await credentials.token(bearer);
        return principal === undefined ? undefined : { principal };
      }
      return sessionCookie === undefined ? undefined : credentials.session(sessionCookie);
    },
  });
  await http.serve();
  const sink = new RecordingSink();
  await adapter.start(sink.sink);
  const base = `http://127.0.0.1:${address.port}`;
  const clients: WebChatClient[] = [];
  return {
    adapter,
    sink,
    base,
    credentials,
    store,
    async signIn(userKey) {
      const { code } = await credentials.issueSignIn({ userKey, displayName: userKey.split(":")[1]! });
      const session = (await credentials.redeemSignIn(code))!;
      const client = new WebChatClient({
        base,
        cookie: `${SESSION_COOKIE}=${session.cookie}`,
        csrfToken: session.csrfToken,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await adapter.stop();
      await http.close();
      await store.close();
    },
  };
}

/**
 * The adapter contract's harness: one person's chat. No tab reads it until a send is refused for unread events;
 * the bound is far above what the suite sends otherwise.
 */
export async function makeWebChatHarness(): Promise<AdapterHarness> {
  const rig = await startWebChat({ maxEventsPerChat: 5_000, maxUnreadEvents: 1_000 });
  const userKey = "telegram:4242";
  const chatId = webChatIdOf(userKey);
  const client = await rig.signIn(userKey);
  const chatOf = () => rig.adapter.chats.get(chatId)!;
  return {
    adapter: rig.adapter,
    async deliver({ text }): Promise<Inbound> {
      const { status, clientId } = await client.say(text);
      if (status !== 202) throw new Error(`posting a message answered ${status}`);
      return rig.sink.waitFor(`web:${chatId}:${clientId}`);
    },
    messages(): ContractMessage[] {
      const out = new Map<string, ContractMessage>();
      for (const e of chatOf().events) {
        if (e.type === "message") out.set(e.messageId!, { chatId, messageId: e.messageId!, raw: e.html! });
        else if (e.type === "edit" && out.has(e.messageId!)) out.get(e.messageId!)!.raw = e.html!;
      }
      return [...out.values()];
    },
    toPlain: webHtmlToText,
    measure: (raw) => webHtml.measure!(raw),
    registeredCommands: () => [...rig.adapter.commandMenu()],
    failNextSend(failure) {
      const chat = chatOf();
      if (failure.kind === "forbidden") {
        // What `POST /api/webchat/close` does; the next message the person sends opens it again.
        chat.isClosed = true;
        return;
      }
      // Events pile up unread to the bound; once a send is refused, a tab opens and reads them, so the retry
      // after the refusal's delay gets through.
      while (chat.unread() < rig.adapter.chats.limits.maxUnreadEvents) rig.adapter.chats.push(chat, { type: "typing" });
      const refusedBefore = rig.adapter.stats().refused;
      const reconnect = setInterval(() => {
        if (rig.adapter.stats().refused === refusedBefore) return;
        clearInterval(reconnect);
        void client.connect();
      }, 20);
    },
    // No URL comes with a web upload (the bytes do), so a crafted `foreignUrl` has nothing to point at.
    async deliverFile({ name, mimeType, bytes }): Promise<Inbound> {
      const { status, clientId } = await client.sayWithFiles("", [{ name, mimeType, bytes }]);
      if (status !== 202) throw new Error(`posting a file answered ${status}`);
      return rig.sink.waitFor(`web:${chatId}:${clientId}`);
    },
    files() {
      return chatOf()
        .events.filter((e) => e.type === "file")
        .map((e) => {
          const held = rig.adapter.downloads.get(e.file!.id, chatId);
          if (held === undefined) throw new Error(`file ${e.file!.name} is no longer held`);
          return { chatId, name: held.name, mimeType: held.mimeType, bytes: held.data };
        });
    },
    sendAttempts: () => rig.adapter.stats().attempts,
    close: () => rig.close(),
  };
}
