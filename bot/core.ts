/**
 * What the composition root hands every module (adapters, skills, marketplace, LLM, schedules): the `Core`
 * services and the `Plugin` shape a module returns. Modules take what they need from `Core`; nothing else is
 * shared between them.
 */
import type { InboundJournal } from "./journal/journal.ts";
import type { SharedWindows } from "./router/shared-windows.ts";
import type { Logger } from "pino";
import type Keyv from "keyv";
import type { Registry } from "prom-client";
import type { Config } from "../config/index.ts";
import type { CommandRegistry } from "./commands.ts";
import type { AuditEntry, Migration, Store } from "./storage/types.ts";
import type {
  ChannelAdapter,
  ConversationTarget,
  HttpMount,
  Inbound,
  Platform,
  Reply,
  SendHooks,
  SentMessage,
} from "./model.ts";
import type { ChatPolicy, Decision, Role } from "./permissions.ts";
import type { ApiRoute, Principal } from "./http/routes.ts";
import type { EventBus } from "./events.ts";

/** A clock, injected where tests need to control time. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

let turnNowMs = Number.NaN;
const forgetTurnNow = (): void => {
  turnNowMs = Number.NaN;
};

/**
 * The real clock read at most once per turn of the event loop (the reading is forgotten when the turn ends), for
 * stamps taken for every message — receipt times, health marks, inbound rate buckets, policy cache checks —
 * where a turn's precision is plenty and a clock read per stamp is not free. Like a web server's cached time.
 * Any other clock (a test's) is returned as it is.
 */
export function turnClock(clock: Clock): Clock {
  return clock === systemClock ? systemTurnClock : clock;
}

const systemTurnClock: Clock = {
  now: () => {
    if (Number.isNaN(turnNowMs)) {
      turnNowMs = Date.now();
      setImmediate(forgetTurnNow).unref();
    }
    return turnNowMs;
  },
};

/** The adapters that are running, addressable by platform. */
export interface AdapterHub {
  get(platform: Platform): ChannelAdapter | undefined;
  list(): ChannelAdapter[];
  /** Send to a conversation on any running adapter (schedules, skills' `send`). */
  send(target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage>;
  edit(message: SentMessage, reply: Reply): Promise<void>;
}

/** Who is asking, for permission checks outside a typed command (LLM tool calls, schedules). */
export interface PermissionQuery {
  platform: Platform;
  chatId: string;
  chatKind: Inbound["chat"]["kind"];
  userId: string;
  platformRole: Inbound["user"]["platformRole"];
}

/** Something permission-checked that is not a registered command (an LLM tool of a skill). */
export interface PermissionTarget {
  name: string;
  defaultRole: Role;
  skill?: string;
  /**
   * The command line the target acts as (`dice`, `dice roll`): it must pass that command's check too, so a tool
   * is never offered or run where its command is refused.
   */
  command?: string;
}

/** The permission service: the one authorization path. */
export interface PermissionService {
  /** The chat's effective policy (cached; `undefined` when the chat has none). */
  policy(chatKey: string): Promise<ChatPolicy | undefined>;
  /** The speaker's role in a chat. */
  roleOf(query: PermissionQuery): Promise<Role>;
  /**
   * May this person run this command in this chat? Same decision as a typed command, every node of the tree on
   * the way checked. Give a command line (`perms set poll guest`, with or without `/`), or a target for things
   * that are not commands (an LLM tool: `{ name, defaultRole, skill, command }`).
   */
  canRun(query: PermissionQuery, command: string | PermissionTarget): Promise<Decision>;
  /** Replace a chat's policy, writing an audit entry (`actor` is a user key; `via` defaults to `chat`). */
  updatePolicy(
    chatKey: string,
    audit: { actor: string; action: string; target?: string; via?: string },
    change: (policy: ChatPolicy) => void,
  ): Promise<ChatPolicy>;
  /** Forget cached policies (all, or one chat). */
  invalidate(chatKey?: string): void;
  /**
   * The key a person's LLM usage, quotas and rate limits are counted under: `principal:<name>` for an identity of
   * a person named in config (`permissions.principals`), else the user key itself.
   */
  personOf(userKey: string): string;
}

/**
 * Permission checks for an HTTP API call, as the signed-in person: the same decision the chat command gets.
 * Throwing methods answer 403 with the denial's code.
 */
export interface ApiAccess {
  isOwner(userKey: string): boolean;
  /** This person's decision for `command` in `chatKey`. */
  decide(
    principal: Pick<Principal, "userKey" | "platform" | "userId">,
    chatKey: string,
    command: string,
  ): Promise<Decision>;
  /** Someone's effective role in a chat, as a message of theirs would get it. */
  roleOf(userKey: string, chatKey: string): Promise<Role>;
  /** Throw unless allowed; answers the role. */
  require(principal: Principal, chatKey: string, command: string): Promise<Role>;
  requireOwner(principal: Principal): void;
  /** Known chats where this person may run `command` (all for an owner). */
  chatsWhere(principal: Principal, command: string): Promise<string[]>;
}

/**
 * Conversation handler: gets every non-command message that passed the access check (the LLM layer).
 * Return true when it handled the message.
 */
export type ConversationHandler = (
  inbound: Inbound,
  ctx: { chatKey: string; userKey: string; role: Role; signal: AbortSignal },
) => Promise<boolean>;

/** The router as modules see it. */
export interface RouterApi {
  /** The entry adapters call (their `InboundSink`). */
  handle(inbound: Inbound): Promise<void>;
  /** Like `handle`, but resolves when the message has been fully processed (schedules, tests). */
  process(inbound: Inbound): Promise<void>;
  /** Set who answers plain conversation (one handler; the LLM layer). */
  setConversationHandler(handler: ConversationHandler | undefined): void;
  /** Wait for all in-flight messages (used at shutdown and in tests). */
  drain(): Promise<void>;
  /**
   * Stop the message running in a conversation (`platform:chatId[:threadId]`): its abort signal fires with
   * `E_STOPPED` (the provider stream and the skill-host call are cancelled) and its queue moves on. Returns what
   * was stopped (`command` or `conversation`), or undefined when nothing was running there.
   */
  stop(conversationKey: string): "command" | "conversation" | undefined;
}

/** Prometheus metrics shared by every module. Modules may register their own on `registry`. */
export interface Metrics {
  readonly registry: Registry;
  messageIn(platform: Platform): void;
  messageOut(platform: Platform): void;
  handlerLatency(platform: Platform, kind: "command" | "conversation" | "other", seconds: number): void;
  error(code: string): void;
}

/** A tool offered to the LLM (JSON Schema parameters), provided by a skill. */
export interface ToolSpec {
  /** Unique across providers: `<skill>__<tool>`. */
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  /** The skill that provides it; its per-chat minimum role (`skill:<name>`) governs who may use it. */
  skill: string;
  /** Minimum role when the chat's policy names neither the tool nor the skill. */
  defaultRole: Role;
  /** The command line the tool acts as: whoever may not run it may not use the tool (the stricter role wins). */
  command?: string;
}

/** Who is calling a tool, and where. */
export interface ToolCallContext {
  inbound: Inbound;
  chatKey: string;
  userKey: string;
  role: Role;
  signal: AbortSignal;
}

/** Provides tools (the skill runtime). `call` returns the tool result as text for the model. */
export interface ToolProvider {
  /** Tools available in this chat (the skill is enabled there). Permission filtering is the caller's job. */
  tools(chatKey: string): ToolSpec[];
  call(name: string, args: unknown, ctx: ToolCallContext): Promise<string>;
}

/** Every tool provider; the LLM layer reads from here. */
export interface ToolRegistry {
  register(provider: ToolProvider): () => void;
  /** Tools available in this chat, from every provider. */
  list(chatKey: string): ToolSpec[];
  /** Call a tool by name; throws `E_NOT_FOUND` when no provider has it. */
  call(name: string, args: unknown, ctx: ToolCallContext): Promise<string>;
}

/** A capability call from a skill, after the skill runtime checked declaration and grant. */
export interface CapabilityCall {
  skill: string;
  chatKey: string;
  /** The user the invocation runs as (`platform:userId`). */
  userKey: string;
  /** That user's platform role in the chat, when the invoking message carried it (for permission checks). */
  platformRole?: Inbound["user"]["platformRole"];
  /** Where to answer/act, for capabilities that need it. */
  target: ConversationTarget;
  /** The skill's arguments: hostile data, validate before use. */
  args: unknown;
  signal: AbortSignal;
}

/**
 * Capabilities other modules offer to skills (`llm` from the LLM layer, `schedule` from schedules). The skill
 * runtime checks the manifest and the chat's grant, then calls the handler. The result must be plain JSON.
 */
export interface CapabilityRegistry {
  provide(name: string, handler: (call: CapabilityCall) => Promise<unknown>): () => void;
  get(name: string): ((call: CapabilityCall) => Promise<unknown>) | undefined;
}

/** The services every module gets. */
export interface Core {
  readonly config: Config;
  readonly version: string;
  /** Epoch ms when the process started. */
  readonly startedAt: number;
  readonly log: Logger;
  readonly clock: Clock;
  /** Durable store (embedded or PostgreSQL). */
  readonly store: Store;
  /** Shared ephemeral state: in-memory, or Redis when configured. Keys are namespaced by the caller. */
  readonly kv: Keyv;
  readonly commands: CommandRegistry;
  readonly permissions: PermissionService;
  readonly router: RouterApi;
  readonly adapters: AdapterHub;
  /** Routes on the shared HTTP listener. */
  readonly http: HttpMount;
  /** The admin API's permission checks, for modules' own routes (`bot/admin/access.ts`). */
  readonly apiAccess: ApiAccess;
  readonly metrics: Metrics;
  /** LLM tools, provided by the skill runtime. */
  readonly tools: ToolRegistry;
  /** Capabilities offered to skills by other modules. */
  readonly capabilities: CapabilityRegistry;
  /** Chat events for listeners: messages, reactions, hook deliveries, schedule fires, skill lifecycle. */
  readonly events: EventBus;
  /** Write one audit entry. */
  audit(entry: Omit<AuditEntry, "at" | "id"> & { at?: number }): Promise<void>;
  /** Track background work so shutdown waits for it. */
  track<T>(promise: Promise<T>): Promise<T>;
  /** Aborted when the bot begins shutting down. */
  readonly shutdownSignal: AbortSignal;
  /**
   * The inbound journal (`storage.journal.enabled`): adapters write each platform event to it before
   * acknowledging it, and it hands the event on to the router. Absent when disabled.
   */
  readonly journal?: InboundJournal;
  /**
   * Fixed-window counters shared by every process (Redis, when `storage.redisUrl` is set): a rate a module must
   * hold across the deployment, such as an inbound hook's requests per minute. Absent without Redis, where one
   * process is the deployment.
   */
  readonly sharedWindows?: SharedWindows;
}

/**
 * A module plugged into the bot by the composition root. Example:
 *
 * ```ts
 * export const schedulesPlugin: PluginFactory = async (core) => {
 *   core.commands.register({ name: "schedule", ... });
 *   return { name: "schedules", start: async () => engine.start(), stop: async () => engine.stop() };
 * };
 * ```
 */
export interface Plugin {
  readonly name: string;
  /** Migrations this module needs; applied before any plugin starts. */
  readonly migrations?: readonly Migration[];
  /** Called after adapters are created and migrations applied, before adapters start. */
  start?(): Promise<void>;
  /** Called at shutdown, in reverse order. */
  stop?(): Promise<void>;
  /** Shown by /status, after the module's name. */
  status?(): PluginStatus;
  /**
   * The module's admin API routes; the composition root mounts them on the listener (modules never see it), and
   * asks only when the bot listens, so a module can load its route code lazily.
   */
  routes?(): Promise<readonly ApiRoute[]> | readonly ApiRoute[];
}

/**
 * What a module reports to /status: `ok`, `degraded` (running, but something is refused or failing), `down` (not
 * running), or `off` (not configured or switched off). `/status` prints `- <name>: <state> — <detail>`, so the
 * detail does not repeat the module's name.
 */
export interface PluginStatus {
  readonly state: "ok" | "degraded" | "down" | "off";
  /** One line, without the module's name. */
  readonly detail?: string;
}

/** Creates a plugin from the core services. */
export type PluginFactory = (core: Core) => Promise<Plugin> | Plugin;

/**
 * What a module declares it uses: some `Core` services and some config sections, written once as data so the
 * composition root can hand over exactly that. Example:
 *
 * ```ts
 * export const LLM_NEEDS = { services: ["log", "store"], config: ["llm"] } as const satisfies ServiceNeeds;
 * export type LlmServices = ServicesOf<typeof LLM_NEEDS>;
 * export function createLlmPlugin(services: LlmServices) { … }
 * // composition root: createLlmPlugin(pickServices(core, LLM_NEEDS))
 * ```
 */
export interface ServiceNeeds {
  readonly services: readonly Exclude<keyof Core, "config">[];
  readonly config: readonly (keyof Config)[];
}

/** The services and config sections a `ServiceNeeds` declares, as one object type. */
export type ServicesOf<N extends ServiceNeeds> = Pick<Core, N["services"][number]> & {
  readonly config: Pick<Config, N["config"][number]>;
};

/** Only the services and config sections `needs` declares, taken from `core`. */
export function pickServices<N extends ServiceNeeds>(core: Core, needs: N): ServicesOf<N> {
  const config: Partial<Config> = {};
  for (const section of needs.config) Object.assign(config, { [section]: core.config[section] });
  const picked: Record<string, unknown> = { config };
  for (const service of needs.services) picked[service] = core[service];
  return picked as ServicesOf<N>;
}
