/**
 * The skill service: loads skill packages, registers their commands and tools, keeps per-chat enablement,
 * grants and settings, and runs invocations in the skill host with every capability checked here.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import {
  type Attachment,
  cleanChatText,
  compareNames,
  parseConversationId,
  SwitchboardError,
  type ChatEvent,
  type CommandContext,
  type ConversationTarget,
  type Inbound,
  type Reply,
  type Role,
  type ToolCallContext,
  type ToolProvider,
  type ToolSpec,
  type PlatformRole,
} from "../bot/index.ts";
import type { SkillsServices } from "./needs.ts";
import type { SkillsConfig } from "../config/sections/skills.ts";
import type { SkillManifest, SkillPermissions } from "./manifest.ts";
import { type HandlerKind, type HostSkillSpec, RESTARTING } from "./host/protocol.ts";
import { BudgetMeter, describeBudget, effectiveBudget, type InvocationBudget } from "./runtime/budget.ts";
import {
  chargeReply,
  handleCapability,
  invocationFiles,
  toSkillReply,
  type Invocation,
} from "./runtime/capabilities.ts";
import type { FetchDeps } from "./runtime/fetch.ts";
import { GrantStore, missingPermissions, noPermissions, type GrantRecord } from "./runtime/grants.ts";
import {
  type CompiledPattern,
  type DropReason,
  ListenerQueues,
  messagePatternOf,
  payloadFor,
  type SkillEventPayload,
} from "./runtime/listeners.ts";
import { listPackageDirs, readSkillPackage } from "./runtime/loader.ts";
import { Quarantine, type QuarantineRecord } from "./runtime/quarantine.ts";
import { SettingsStore } from "./runtime/settings.ts";
import type { SkillHostSupervisor } from "./runtime/supervisor.ts";

/** Where a loaded skill came from. */
export type SkillSource = "installed" | "linked" | "builtin";

/** A skill loaded into the runtime. */
export interface LoadedSkill {
  name: string;
  packageName: string;
  version: string;
  source: SkillSource;
  /** The package folder. */
  dir: string;
  manifest: SkillManifest;
  /** What the host runs. */
  spec: HostSkillSpec;
  /** What one invocation may do (the manifest's request within the operator's maximums). */
  budget: InvocationBudget;
  /** The manifest's `events.messages.pattern`, compiled (RE2, linear time), when it listens to messages. */
  pattern: CompiledPattern | undefined;
  /**
   * What the host runs event handlers in, when the skill listens: the same code and limits in an isolate of its
   * own, so a listener that spins or is stopped never takes the skill's commands down with it.
   */
  listenerSpec: HostSkillSpec | undefined;
}

/** One event waiting for one skill's handler in one chat. */
interface ListenerJob {
  skill: string;
  chatKey: string;
  payload: SkillEventPayload;
  target: ConversationTarget;
  /** Who caused it: the person for messages and reactions, else the bot itself. */
  user: { id: string; name: string; role: Role; platformRole: PlatformRole | undefined };
  chat: { id: string; platform: string; kind: string; title?: string };
  /** The files of the message heard (message events only). */
  attachments?: Attachment[] | undefined;
}

/** A skill's state in one chat. */
export type SkillChatState = "enabled" | "disabled" | "needs-reapproval";

/** Options for the service. */
export interface SkillServiceOptions {
  core: SkillsServices;
  config: SkillsConfig;
  supervisor: SkillHostSupervisor;
  /** The key for secret settings, read on first use. */
  secretKey: () => Buffer;
  /** Test hooks for fetch (name resolution, connection observer). */
  fetchDeps?: FetchDeps;
}

/** The skill runtime's service; the marketplace and the CLI drive it. */
export class SkillService {
  readonly #core: SkillsServices;
  readonly #config: SkillsConfig;
  readonly #supervisor: SkillHostSupervisor;
  readonly #skills = new Map<string, LoadedSkill>();
  readonly #grants: GrantStore;
  readonly #settings: SettingsStore;
  readonly #inFlight = new Map<string, number>();
  readonly #quarantine: Quarantine;
  /** The chat of each skill's latest invocation, for the audit entry of a quarantine. */
  readonly #lastChat = new Map<string, string>();
  readonly #failures: Counter<"skill" | "reason">;
  readonly #refusals: Counter<"skill">;
  readonly #calls: Histogram<"skill" | "kind">;
  readonly #events: Counter<"skill" | "type" | "outcome">;
  readonly #listeners: ListenerQueues<ListenerJob>;
  #bus: { subscribe(listener: (event: ChatEvent) => void): () => void } | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #fetchDeps: FetchDeps | undefined;

  constructor(options: SkillServiceOptions) {
    this.#core = options.core;
    this.#config = options.config;
    this.#supervisor = options.supervisor;
    this.#grants = new GrantStore(options.core.store.sql);
    this.#settings = new SettingsStore(options.core.store.kv, options.secretKey);
    this.#fetchDeps = options.fetchDeps;
    this.#quarantine = new Quarantine({
      kv: options.core.store.kv,
      afterCrashes: options.config.quarantineAfterCrashes,
      windowMs: options.config.quarantineWindowMs,
      now: () => options.core.clock.now(),
    });
    const registry = options.core.metrics.registry;
    this.#refusals = metric(
      registry,
      "switchboard_skill_budget_refusals_total",
      () =>
        new Counter({
          name: "switchboard_skill_budget_refusals_total",
          help: "Capability calls refused because the invocation was over its budget",
          labelNames: ["skill"],
          registers: [registry],
        }),
    );
    this.#failures = metric(
      registry,
      "switchboard_skill_failures_total",
      () =>
        new Counter({
          name: "switchboard_skill_failures_total",
          help: "Skill invocations stopped, by skill and reason",
          labelNames: ["skill", "reason"],
          registers: [registry],
        }),
    );
    this.#calls = metric(
      registry,
      "switchboard_skill_call_seconds",
      () =>
        new Histogram({
          name: "switchboard_skill_call_seconds",
          help: "Skill invocation time",
          labelNames: ["skill", "kind"],
          registers: [registry],
          buckets: [0.0005, 0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
        }),
    );
    this.#events = metric(
      registry,
      "switchboard_skill_events_total",
      () =>
        new Counter({
          name: "switchboard_skill_events_total",
          help: "Events handed to listening skills, by outcome (ok, failed, or why it was dropped)",
          labelNames: ["skill", "type", "outcome"],
          registers: [registry],
        }),
    );
    const listeners = options.config.listeners;
    this.#listeners = new ListenerQueues<ListenerJob>({
      queueLength: listeners.queueLength,
      maxAgeMs: listeners.maxAgeMs,
      maxQueues: listeners.maxQueues,
      now: () => options.core.clock.now(),
      run: (job) => options.core.track(this.#runListener(job)),
      dropped: (job, reason) => this.#dropped(job, reason),
    });
  }

  /** Read the grants table and the quarantined skills into memory (at start, after migrations). */
  async loadGrants(): Promise<void> {
    await Promise.all([this.#grants.load(), this.#quarantine.load()]);
  }

  /** A loaded skill's effective limits and budget in one line (`/skills info`), or undefined when not loaded. */
  describeLimits(name: string): string | undefined {
    const skill = this.#skills.get(name);
    if (skill === undefined) return undefined;
    const { memoryMb, cpuMs, timeoutMs } = skill.spec;
    const quarantine = this.#quarantine.get(name);
    const hears = describeEvents(skill.manifest);
    return `memory ${memoryMb} MB, CPU ${cpuMs} ms per call, wall clock ${timeoutMs} ms per invocation; per invocation: ${describeBudget(skill.budget)}${hears === undefined ? "" : `; listens to ${hears}`}${quarantine === undefined ? "" : `. Turned off: it ${quarantine.reason}`}`;
  }

  /** Why a skill is quarantined, or undefined when it is not. */
  quarantined(name: string): QuarantineRecord | undefined {
    return this.#quarantine.get(name);
  }

  /**
   * A host stopped on its own. A skill that had the host to itself is charged with the crash, and quarantined
   * when it keeps crashing (a shared host's crash cannot be pinned on one skill).
   */
  async hostCrashed(crash: { group: string; skills: string[]; reason: string }): Promise<void> {
    if (!crash.group.startsWith("skill:") || crash.skills.length !== 1) return;
    const name = crash.skills[0]!;
    const record = await this.#quarantine.recordCrash(
      name,
      `crashed its host ${this.#config.quarantineAfterCrashes} times (last: ${crash.reason})`,
    );
    if (record === undefined) return;
    this.#failures.inc({ skill: name, reason: "quarantined" });
    this.#core.log.error({ skill: name, reason: record.reason }, "skill quarantined");
    await this.#core.audit({
      actor: "system",
      chatKey: this.#lastChat.get(name) ?? "*",
      action: "skill.quarantined",
      target: name,
      after: record,
    });
  }

  /** Load every package folder under `dir`; a bad package is logged and skipped. */
  async loadInstalled(dir: string): Promise<LoadedSkill[]> {
    const loaded: LoadedSkill[] = [];
    for (const packageDir of await listPackageDirs(dir)) {
      try {
        loaded.push(await this.load(packageDir, { source: "installed" }));
      } catch (error) {
        this.#core.log.warn({ err: error, dir: packageDir }, "skipping skill package that could not be loaded");
      }
    }
    return loaded;
  }

  /**
   * Load (or reload) one package. The same name and version again is a no-op; another version replaces the
   * loaded one. Refused with `E_CONFLICT` when a command name is taken by a built-in or another skill.
   */
  async load(packageDir: string, options: { source: SkillSource }): Promise<LoadedSkill> {
    const pkg = await readSkillPackage(packageDir);
    const previous = this.#skills.get(pkg.name);
    if (previous !== undefined && previous.version === pkg.version && previous.spec.code === pkg.code) return previous;
    for (const command of pkg.manifest.commands) {
      const holder = this.#core.commands.get(command.name);
      if (holder !== undefined && holder.skill !== pkg.name) {
        throw new SwitchboardError(
          "E_CONFLICT",
          `skill ${pkg.name}: command /${command.name} is already provided by ${holder.source}`,
          {
            chatMessage: `The skill ${pkg.name} was refused: /${command.name} is already provided by ${holder.source}.`,
          },
        );
      }
    }
    const spec = this.#specFor(pkg.name, pkg.version, { code: pkg.code, manifest: pkg.manifest });
    const skill: LoadedSkill = {
      name: pkg.name,
      packageName: pkg.packageName,
      version: pkg.version,
      source: options.source,
      dir: pkg.dir,
      manifest: pkg.manifest,
      spec,
      budget: effectiveBudget(pkg.manifest, this.#config),
      pattern: messagePatternOf(pkg.manifest),
      listenerSpec: listens(pkg.manifest) ? { ...spec, key: `${spec.key}+events` } : undefined,
    };
    if (previous !== undefined) this.#unregister(previous);
    this.#skills.set(skill.name, skill);
    // A skill from a registry or a linked folder gets a host of its own: its crash restarts only that host.
    // Built-ins share hosts that run at the bot's priority; any other skill's host yields the CPU (`hostNice`).
    const placement = {
      isolated: this.#config.hostIsolation === "per-skill" && skill.source !== "builtin",
      builtin: skill.source === "builtin",
    };
    this.#supervisor.load(skill.spec, placement);
    // Its event handlers run in an isolate of their own, placed under a slot of their own: isolated, that is a
    // host process of their own too, so a listener that aborts its host fails none of the skill's commands.
    if (skill.listenerSpec !== undefined)
      this.#supervisor.load(skill.listenerSpec, { ...placement, slot: listenerSlot(skill.name) });
    for (const command of skill.manifest.commands) {
      this.#core.commands.register({
        name: command.name,
        description: command.description,
        ...(command.usage === undefined ? {} : { usage: command.usage }),
        ...(command.args === undefined ? {} : { args: command.args }),
        ...nodeFlags(command),
        defaultRole: command.defaultRole,
        ...(command.subcommands === undefined
          ? {}
          : {
              subcommands: command.subcommands.map((sub) => ({
                name: sub.name,
                description: sub.description,
                ...(sub.usage === undefined ? {} : { usage: sub.usage }),
                ...(sub.args === undefined ? {} : { args: sub.args }),
                ...(sub.defaultRole === undefined ? {} : { defaultRole: sub.defaultRole }),
                ...nodeFlags(sub),
                handler: (ctx: CommandContext) => this.runCommand(skill.name, command.name, ctx),
              })),
            }),
        source: `skill:${skill.name}`,
        skill: skill.name,
        // A skill awaiting re-approval keeps its commands, which answer with what to approve.
        availableIn: (chatKey) => this.state(chatKey, skill.name) !== "disabled",
        handler: (ctx) => this.runCommand(skill.name, command.name, ctx),
      });
    }
    this.#resubscribe();
    this.#core.log.info({ skill: skill.name, version: skill.version, source: skill.source }, "skill loaded");
    return skill;
  }

  /** Unload a skill: its commands and tools disappear and its isolate is disposed. */
  async unload(name: string): Promise<boolean> {
    const skill = this.#skills.get(name);
    if (skill === undefined) return false;
    this.#unregister(skill);
    this.#skills.delete(name);
    this.#lastChat.delete(name);
    this.#resubscribe();
    return true;
  }

  list(): LoadedSkill[] {
    return [...this.#skills.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  get(name: string): LoadedSkill | undefined {
    return this.#skills.get(name);
  }

  /** The skill's state in a chat (built-ins named in `enabledByDefault` are on until a chat turns them off). */
  state(chatKey: string, name: string): SkillChatState {
    const skill = this.#skills.get(name);
    const record = this.#grants.get(chatKey, name);
    if (record === undefined) {
      if (skill?.source === "builtin" && this.#config.enabledByDefault.includes(name)) return "enabled";
      // A linked skill is the operator's work in progress: on in the operator's console.
      if (skill?.source === "linked" && chatKey.startsWith("console:")) return "enabled";
      return "disabled";
    }
    if (!record.enabled) return "disabled";
    if (skill === undefined) return "enabled";
    return missingPermissions(record.permissions, skill.manifest.permissions).length === 0
      ? "enabled"
      : "needs-reapproval";
  }

  /** Permissions the loaded version asks for that this chat has not approved. */
  pendingPermissions(chatKey: string, name: string): string[] {
    const skill = this.#requireSkill(name);
    const record = this.#grants.get(chatKey, name);
    return record === undefined
      ? missingPermissions(noPermissions(), skill.manifest.permissions)
      : missingPermissions(record.permissions, skill.manifest.permissions);
  }

  /** Names of the loaded skills that run in this chat. */
  enabledIn(chatKey: string): string[] {
    return this.list()
      .filter((s) => this.state(chatKey, s.name) === "enabled")
      .map((s) => s.name);
  }

  /** The permissions approved in this chat, or undefined when none were. */
  grantsFor(chatKey: string, name: string): SkillPermissions | undefined {
    const record = this.#grants.get(chatKey, name);
    return record?.enabled === true ? record.permissions : undefined;
  }

  /** Enable a skill in a chat, granting what its manifest asks for (the admin approved it). Audited. */
  async enable(chatKey: string, name: string, actorUserKey: string): Promise<GrantRecord> {
    const skill = this.#requireSkill(name);
    const before = this.#grants.get(chatKey, name);
    const record: GrantRecord = {
      chatKey,
      skill: name,
      enabled: true,
      version: skill.version,
      permissions: structuredClone(skill.manifest.permissions),
      grantedBy: actorUserKey,
      grantedAt: this.#core.clock.now(),
    };
    await this.#grants.put(record);
    if (await this.#quarantine.clear(name))
      await this.#core.audit({ actor: actorUserKey, chatKey, action: "skill.unquarantined", target: name });
    await this.#core.audit({
      actor: actorUserKey,
      chatKey,
      action: "skills.enable",
      target: name,
      before: before ?? null,
      after: { version: record.version, permissions: record.permissions },
    });
    this.#lifecycle(chatKey, name, "enabled");
    return record;
  }

  /** Turn a skill off in a chat (its grant is kept for the record). Audited. */
  async disable(chatKey: string, name: string, actorUserKey: string): Promise<void> {
    const before = this.#grants.get(chatKey, name);
    const record: GrantRecord =
      before === undefined
        ? {
            chatKey,
            skill: name,
            enabled: false,
            version: this.#skills.get(name)?.version ?? null,
            permissions: noPermissions(),
            grantedBy: actorUserKey,
            grantedAt: this.#core.clock.now(),
          }
        : { ...before, enabled: false, grantedBy: actorUserKey, grantedAt: this.#core.clock.now() };
    await this.#grants.put(record);
    await this.#core.audit({
      actor: actorUserKey,
      chatKey,
      action: "skills.disable",
      target: name,
      before: before ?? null,
      after: { enabled: false },
    });
    this.#lifecycle(chatKey, name, "disabled");
  }

  /**
   * Forget every chat's grant of a skill (it was uninstalled): a reinstall must be approved again in each chat.
   * Audited per chat with what was granted.
   */
  async forgetGrants(name: string, actorUserKey: string): Promise<number> {
    const removed = await this.#grants.removeSkill(name);
    for (const before of removed) {
      await this.#core.audit({
        actor: actorUserKey,
        chatKey: before.chatKey,
        action: "skills.revoke",
        target: name,
        before,
        after: null,
      });
    }
    return removed.length;
  }

  /**
   * Set one setting for a skill in a chat (validated against its settings schema; secrets encrypted). Audited with
   * the value before and after (a secret's value never: only whether it was set).
   */
  async setSetting(
    chatKey: string,
    name: string,
    { key, value, actorUserKey }: { key: string; value: unknown; actorUserKey: string },
  ): Promise<void> {
    const skill = this.#requireSkill(name);
    // What it was, as the chat saw it (a default when never set; a secret only as set or not).
    const before = (await this.#settings.get(chatKey, skill, false))[key];
    const secret = await this.#settings.set(chatKey, skill, { key, value });
    await this.#core.audit({
      actor: actorUserKey,
      chatKey,
      action: "skills.setting",
      target: `${name}.${key}`,
      before: { value: before === undefined ? null : secret ? "(secret)" : before },
      after: { value: secret ? "(secret)" : value },
    });
    this.#lifecycle(chatKey, name, "settingsChanged");
  }

  /** A chat's settings for a skill. Secrets are masked unless `reveal` (the skill's own capability uses that). */
  async getSettings(
    chatKey: string,
    name: string,
    options: { reveal?: boolean } = {},
  ): Promise<Record<string, unknown>> {
    const skill = this.#requireSkill(name);
    return this.#settings.get(chatKey, skill, options.reveal === true);
  }

  /** The tool provider registered on `core.tools`. */
  toolProvider(): ToolProvider {
    return {
      tools: (chatKey) => this.#toolsIn(chatKey),
      call: (name, args, ctx) => this.runTool(name, args, ctx),
    };
  }

  /**
   * Hand the events of `bus` to the skills that subscribe to them (manifest `events`), in the chats where they
   * are enabled (messages: only where the chat granted `messages.read`). Each event waits in its (chat, skill)
   * queue and runs after the publisher has moved on, so a listener never delays a reply. Returns the unsubscribe.
   */
  listen(bus: { subscribe(listener: (event: ChatEvent) => void): () => void }): () => void {
    this.#bus = bus;
    this.#resubscribe();
    return () => {
      this.#bus = undefined;
      this.#resubscribe();
    };
  }

  /** Subscribed only while a loaded skill listens, so publishers see no subscriber and build no events. */
  #resubscribe(): void {
    const wanted = this.#bus !== undefined && [...this.#skills.values()].some((s) => listens(s.manifest));
    // Matched on a later turn: the publisher (the router, with a reply under way) never waits for the patterns.
    if (wanted && this.#unsubscribe === undefined)
      this.#unsubscribe = this.#bus?.subscribe((e) => setImmediate(() => this.#dispatchSafely(e)));
    if (!wanted && this.#unsubscribe !== undefined) {
      this.#unsubscribe();
      this.#unsubscribe = undefined;
    }
  }

  /** Events waiting or running for listeners, by (chat, skill) queue. */
  get listenerQueues(): number {
    return this.#listeners.size;
  }

  #lifecycle(chatKey: string, skill: string, event: "enabled" | "disabled" | "settingsChanged"): void {
    const subscribed = this.#skills.get(skill)?.manifest.events.lifecycle?.includes(event) === true;
    if (subscribed && this.#core.events.size > 0)
      this.#core.events.publish({ type: "lifecycle", chatKey, skill, event });
  }

  #dispatchSafely(event: ChatEvent): void {
    try {
      this.#dispatch(event);
    } catch (error) {
      this.#core.log.warn({ err: error, event: event.type, chat: event.chatKey }, "could not dispatch an event");
    }
  }

  #dispatch(event: ChatEvent): void {
    const chatKey = event.chatKey;
    for (const skill of this.#skills.values()) {
      const payload = this.#payloadFor(event, skill);
      if (payload === undefined) continue;
      const job = this.#jobFor(event, { skill: skill.name, payload });
      if (job === undefined) continue;
      this.#listeners.push(listenerKey(chatKey, skill.name), job);
    }
  }

  /** What `skill` gets for `event` in its chat, or undefined when it does not listen there. */
  #payloadFor(event: ChatEvent, skill: LoadedSkill): SkillEventPayload | undefined {
    const events = skill.manifest.events;
    // Cheap checks first: most skills listen to nothing.
    if (event.type === "message" && skill.pattern === undefined) return undefined;
    if (event.type === "reaction" && events.reactions !== true) return undefined;
    if (event.type === "hook" && events.hooks === undefined) return undefined;
    if (event.type === "schedule" && events.schedule !== true) return undefined;
    if (event.type === "lifecycle" && event.skill !== skill.name) return undefined;
    if (event.type === "message" || event.type === "reaction") {
      // Only what people typed (the operator's console included): schedule runs and button presses are not heard.
      const origin = event.inbound.origin;
      if (origin === "schedule" || origin === "button") return undefined;
    }
    const disabledEvent = event.type === "lifecycle" && event.event === "disabled";
    const state = this.state(event.chatKey, skill.name);
    // A skill hears it was disabled only where it had a grant (it was enabled there).
    if (disabledEvent ? this.#grants.get(event.chatKey, skill.name) === undefined : state !== "enabled")
      return undefined;
    if (event.type === "message" && !this.#readsMessages(event.chatKey, skill)) return undefined;
    if (this.#quarantine.get(skill.name) !== undefined) return undefined;
    return payloadFor(event, skill, this.#config.listeners.maxMessageChars);
  }

  /**
   * Every message is seen only where the chat approved it by its own grant, never by a default: a built-in on by
   * default does not hear. The one exception is a linked skill in the operator's console, approved when it was
   * linked (the link command lists what it asks for).
   */
  #readsMessages(chatKey: string, skill: LoadedSkill): boolean {
    const record = this.#grants.get(chatKey, skill.name);
    if (record === undefined) return skill.source === "linked" && chatKey.startsWith("console:");
    return record.enabled && record.permissions.messages.read === true;
  }

  #jobFor(
    event: ChatEvent,
    { skill, payload }: { skill: string; payload: SkillEventPayload },
  ): ListenerJob | undefined {
    const system = { id: "system", name: "Switchboard", role: "guest" as Role, platformRole: undefined };
    if (event.type === "message" || event.type === "reaction") {
      const inbound = event.inbound;
      return {
        skill,
        chatKey: event.chatKey,
        payload,
        target: targetOf(inbound),
        // The role is read when the job runs (the policy lookup is async); `guest` until then.
        user: {
          id: `${inbound.platform}:${inbound.user.id}`,
          name: inbound.user.displayName,
          role: "guest",
          platformRole: inbound.user.platformRole,
        },
        chat: chatOf(inbound, event.chatKey),
        ...(event.type === "message" && inbound.attachments !== undefined ? { attachments: inbound.attachments } : {}),
      };
    }
    let target: ConversationTarget;
    try {
      target = event.type === "lifecycle" ? parseConversationId(event.chatKey) : event.target;
    } catch {
      return undefined;
    }
    return {
      skill,
      chatKey: event.chatKey,
      payload,
      target,
      user: system,
      chat: { id: event.chatKey, platform: target.platform, kind: "group" },
    };
  }

  /**
   * Hand one event to one loaded skill now, past the queues, and wait for its handler (the author kit's
   * `switchboard skill test` in the real runtime); its replies go to `reply`. Resolves false when the skill does
   * not hear it there (not subscribed, not granted, the pattern does not match); a handler's failure rejects.
   */
  async feedEvent(name: string, event: ChatEvent, reply: (reply: Reply) => Promise<unknown>): Promise<boolean> {
    const skill = this.#requireSkill(name);
    const payload = this.#payloadFor(event, skill);
    const job = payload === undefined ? undefined : this.#jobFor(event, { skill: skill.name, payload });
    if (job === undefined) return false;
    // After what the bus handed this (chat, skill) already (its dispatch runs a turn later): one at a time, as always.
    await new Promise((resolve) => setImmediate(resolve));
    await this.#listeners.whenIdle(listenerKey(job.chatKey, skill.name));
    await this.#runListener(job, { reply, rethrow: true });
    return true;
  }

  async #runListener(
    job: ListenerJob,
    direct: { reply: (reply: Reply) => Promise<unknown>; rethrow: boolean } | undefined = undefined,
  ): Promise<void> {
    const skill = this.#skills.get(job.skill);
    if (skill === undefined) return;
    const type = job.payload.type;
    // Listeners take at most half of a skill's calls in flight: its commands always find room.
    const listenerCap = Math.max(1, Math.floor(this.#config.maxInFlightPerSkill / 2));
    if ((this.#inFlight.get(skill.name) ?? 0) >= listenerCap) {
      this.#dropped(job, "busy");
      return;
    }
    try {
      let role = job.user.role;
      if (job.user.id !== "system" && (job.payload.type === "message" || job.payload.type === "reaction")) {
        const target = job.target;
        role = await this.#core.permissions.roleOf({
          platform: target.platform,
          chatId: target.chatId,
          chatKind: job.chat.kind as Inbound["chat"]["kind"],
          userId: job.user.id.slice(target.platform.length + 1),
          platformRole: job.user.platformRole,
        });
      }
      const send = direct?.reply ?? ((reply: Reply) => this.#core.adapters.send(job.target, reply));
      const { value, inv } = await this.#invoke(
        skill,
        {
          kind: "event",
          handler: type,
          input: {
            args: job.payload,
            rawArgs: "",
            chat: job.chat,
            user: { id: job.user.id, name: job.user.name, role },
          },
        },
        {
          chatKey: job.chatKey,
          userKey: job.user.id,
          platformRole: job.user.platformRole,
          target: job.target,
          signal: this.#core.shutdownSignal,
          reply: send,
          attachments: job.attachments,
          evenIfDisabled: type === "lifecycle" && job.payload.type === "lifecycle" && job.payload.event === "disabled",
        },
      );
      if (value !== undefined && value !== null) {
        const reply = toSkillReply(value, skill.manifest.permissions.messages.mentions);
        chargeReply(inv, reply);
        await send(reply);
      }
      this.#events.inc({ skill: skill.name, type, outcome: "ok" });
    } catch (error) {
      // Never answered into the chat: the failure was counted, audited and logged (or was a refusal).
      this.#dropped(job, "failed");
      this.#core.log.debug({ err: error, skill: skill.name, chat: job.chatKey, type }, "listener did not complete");
      if (direct?.rethrow === true) throw error;
    }
  }

  #dropped(job: ListenerJob, reason: DropReason): void {
    this.#events.inc({ skill: job.skill, type: job.payload.type, outcome: reason });
    if (reason !== "failed")
      this.#core.log.debug({ skill: job.skill, chat: job.chatKey, type: job.payload.type, reason }, "event dropped");
  }

  /** Run a skill command (the registered command's handler). */
  async runCommand(skillName: string, command: string, ctx: CommandContext): Promise<Reply | void> {
    const skill = this.#requireSkill(skillName);
    // The skill sees the whole line after its command, subcommands included: it dispatches on them itself.
    const args = ctx.path.length === 0 ? ctx.args : [...ctx.path, ...ctx.args];
    const rawArgs = ctx.path.length === 0 ? ctx.rawArgs : [...ctx.path, ctx.rawArgs].join(" ").trim();
    const input = {
      args,
      rawArgs,
      chat: chatOf(ctx.inbound, ctx.chatKey),
      user: { id: ctx.userKey, name: ctx.inbound.user.displayName, role: ctx.role },
    };
    const value = await this.#invoke(
      skill,
      { kind: "command", handler: command, input },
      {
        chatKey: ctx.chatKey,
        userKey: ctx.userKey,
        platformRole: ctx.inbound.user.platformRole,
        target: targetOf(ctx.inbound),
        signal: ctx.signal,
        reply: (reply) => ctx.reply(reply),
        attachments: ctx.inbound.attachments,
      },
    );
    const note = overBudgetNote(skill.name, value.inv);
    if (value.value === undefined || value.value === null) return note === undefined ? undefined : { text: note };
    const reply = toSkillReply(value.value, skill.manifest.permissions.messages.mentions);
    chargeReply(value.inv, reply);
    if (note !== undefined) reply.text = `${reply.text}\n\n${note}`;
    return reply;
  }

  /** Run a skill tool for the LLM layer; the result comes back as text. */
  async runTool(toolName: string, args: unknown, ctx: ToolCallContext): Promise<string> {
    const split = toolName.indexOf("__");
    const skill = split > 0 ? this.#skills.get(toolName.slice(0, split)) : undefined;
    const tool = skill?.manifest.tools.find((t) => t.name === toolName.slice(split + 2));
    if (skill === undefined || tool === undefined)
      throw new SwitchboardError("E_NOT_FOUND", `no tool ${toolName}`, {
        chatMessage: `There is no tool ${toolName} here.`,
      });
    const input = {
      args: args ?? {},
      rawArgs: "",
      chat: chatOf(ctx.inbound, ctx.chatKey),
      user: { id: ctx.userKey, name: ctx.inbound.user.displayName, role: ctx.role },
    };
    const { value } = await this.#invoke(
      skill,
      { kind: "tool", handler: tool.name, input },
      {
        chatKey: ctx.chatKey,
        userKey: ctx.userKey,
        platformRole: ctx.inbound.user.platformRole,
        target: targetOf(ctx.inbound),
        signal: ctx.signal,
        reply: (reply) => ctx.inbound.respond(reply),
      },
    );
    return typeof value === "string" ? value : JSON.stringify(value ?? null);
  }

  async #invoke(
    skill: LoadedSkill,
    {
      kind,
      handler,
      input,
    }: {
      kind: HandlerKind;
      handler: string;
      input: { args: unknown; rawArgs: string; chat: unknown; user: { id: string; name: string; role: Role } };
    },
    where: {
      chatKey: string;
      userKey: string;
      platformRole: PlatformRole | undefined;
      target: ConversationTarget;
      signal: AbortSignal;
      reply: (reply: Reply) => Promise<unknown>;
      /** A listener hearing it was disabled runs once more there. */
      evenIfDisabled?: boolean;
      /** The files of the message that invoked it, readable with the `files` permission. */
      attachments?: readonly Attachment[] | undefined;
    },
  ): Promise<{ value: unknown; inv: Invocation }> {
    const state = this.state(where.chatKey, skill.name);
    if (state !== "enabled" && where.evenIfDisabled !== true) {
      throw new SwitchboardError("E_SKILL_DENIED", `${skill.name} is ${state} in ${where.chatKey}`, {
        chatMessage:
          state === "needs-reapproval"
            ? `The skill ${skill.name} was updated and asks for new permissions (${this.pendingPermissions(where.chatKey, skill.name).join(", ")}). A chat admin must approve them with /skills enable ${skill.name}.`
            : `The skill ${skill.name} is not enabled in this chat.`,
      });
    }
    const quarantine = this.#quarantine.get(skill.name);
    if (quarantine !== undefined) {
      throw new SwitchboardError("E_SKILL_QUARANTINED", `${skill.name} is quarantined: ${quarantine.reason}`, {
        chatMessage: `The skill ${skill.name} is turned off: it ${quarantine.reason}. A chat admin can turn it back on with /skills enable ${skill.name}.`,
      });
    }
    const running = this.#inFlight.get(skill.name) ?? 0;
    if (running >= this.#config.maxInFlightPerSkill) {
      this.#failures.inc({ skill: skill.name, reason: "busy" });
      throw new SwitchboardError("E_SKILL_LIMIT", `${skill.name} has ${running} calls in flight`, {
        chatMessage: `The skill ${skill.name} is busy; try again in a moment.`,
      });
    }
    const ended = new AbortController();
    this.#lastChat.delete(skill.name);
    this.#lastChat.set(skill.name, where.chatKey);
    const inv: Invocation = {
      skill: skill.name,
      version: skill.version,
      manifest: skill.manifest,
      chatKey: where.chatKey,
      userKey: where.userKey,
      platformRole: where.platformRole,
      target: where.target,
      // Ends with the invocation: fetches and LLM calls still in flight are cancelled, their answers dropped.
      signal: AbortSignal.any([where.signal, ended.signal]),
      reply: where.reply,
      budget: new BudgetMeter(skill.budget),
      denial: undefined,
      files: invocationFiles(where.attachments),
    };
    const deps = {
      core: this.#core,
      config: this.#config,
      maxAttachmentBytes: this.#core.config.limits.maxAttachmentBytes,
      // A listener told it was disabled runs once more with its capabilities in that chat, to clean up.
      isEnabled: (chatKey: string, name: string) =>
        this.state(chatKey, name) === "enabled" ||
        (where.evenIfDisabled === true && chatKey === where.chatKey && name === skill.name),
      settings: (chatKey: string, name: string) => this.getSettings(chatKey, name, { reveal: true }),
      ...(this.#fetchDeps === undefined ? {} : { fetchDeps: this.#fetchDeps }),
    };
    this.#inFlight.set(skill.name, running + 1);
    const started = performance.now();
    try {
      const result = await this.#supervisor.callWith(
        (kind === "event" ? skill.listenerSpec : undefined) ?? skill.spec,
        {
          chatKey: where.chatKey,
          kind,
          name: handler,
          input: JSON.stringify(input),
          onCap: (name, args) => handleCapability(inv, { name, argsJson: args }, deps),
          onRefused: (count) => inv.budget.countRefused("calls", count),
          // The router's timeout, /stop and shutdown reach the host: the isolate stops, not just our waiting.
          signal: where.signal,
        },
      );
      this.#calls.observe({ skill: skill.name, kind }, (performance.now() - started) / 1000);
      if (result.ok) {
        const envelope = JSON.parse(result.value) as { ok: boolean; value: unknown };
        return { value: envelope.value, inv };
      }
      if (result.failure === "cancelled") {
        // Not the skill's fault: whoever aborted (a /stop, a timeout, shutdown) gave the reason.
        throw where.signal.reason ?? new SwitchboardError("E_STOPPED", `${skill.name} call cancelled`);
      }
      throw await this.#failed(skill, inv, { handler, failure: result.failure, detail: result.message });
    } finally {
      ended.abort();
      if (inv.budget.refusedTotal > 0) this.#refusals.inc({ skill: skill.name }, inv.budget.refusedTotal);
      const left = (this.#inFlight.get(skill.name) ?? 1) - 1;
      if (left <= 0) this.#inFlight.delete(skill.name);
      else this.#inFlight.set(skill.name, left);
    }
  }

  /** Count, audit and log a failed invocation; return the error the chat sees. */
  async #failed(
    skill: LoadedSkill,
    inv: Invocation,
    { handler, failure, detail }: { handler: string; failure: string; detail: string },
  ): Promise<SwitchboardError> {
    const isLimit = failure === "timeout" || failure === "cpu" || failure === "memory" || failure === "too-large";
    this.#failures.inc({ skill: skill.name, reason: failure });
    this.#core.metrics.error(isLimit ? "E_SKILL_LIMIT" : "E_SKILL_FAILED");
    this.#core.log.warn(
      { skill: skill.name, version: skill.version, chat: inv.chatKey, handler, failure, detail: detail.slice(0, 500) },
      "skill invocation stopped",
    );
    await this.#core
      .audit({
        actor: `skill:${skill.name}`,
        chatKey: inv.chatKey,
        action: isLimit ? "skill.limit" : "skill.failed",
        target: handler,
        after: { failure, version: skill.version },
      })
      .catch((error: unknown) => this.#core.log.warn({ err: error }, "could not audit a skill failure"));
    return failureError({ skill: skill.name, failure, detail, inv, quarantine: this.#quarantine.get(skill.name) });
  }

  #toolsIn(chatKey: string): ToolSpec[] {
    const out: ToolSpec[] = [];
    for (const skill of this.#skills.values()) {
      if (skill.manifest.tools.length === 0 || this.state(chatKey, skill.name) !== "enabled") continue;
      for (const tool of skill.manifest.tools) {
        out.push({
          name: `${skill.name}__${tool.name}`,
          description: tool.description,
          parameters: tool.parameters,
          skill: skill.name,
          defaultRole: tool.defaultRole,
          ...commandOfTool(skill.name, skill.manifest, tool),
        });
      }
    }
    return out;
  }

  #specFor(
    name: string,
    version: string,
    { code, manifest }: { code: string; manifest: SkillManifest },
  ): HostSkillSpec {
    const c = this.#config;
    const budget = effectiveBudget(manifest, c);
    return {
      key: `${name}@${version}`,
      name,
      code,
      memoryMb: Math.min(manifest.limits.memoryMb ?? c.defaultMemoryMb, c.maxMemoryMb),
      cpuMs: Math.min(manifest.limits.cpuMs ?? c.defaultCpuMs, c.maxCpuMs),
      timeoutMs: Math.min(manifest.limits.timeoutMs ?? c.defaultTimeoutMs, c.maxTimeoutMs),
      maxResultChars: c.maxResultChars,
      maxCapArgChars: c.maxResultChars,
      maxCapCalls: budget.capCalls,
      capGroups: [
        { names: ["llm"], max: budget.llmCalls, label: "LLM calls" },
        { names: ["fetch"], max: budget.fetchRequests, label: "fetch requests" },
        { names: ["storage.set", "storage.delete"], max: budget.storageWrites, label: "storage writes" },
      ],
      maxContexts: c.maxContextsPerSkill,
      idleMs: c.idleMs,
    };
  }

  #unregister(skill: LoadedSkill): void {
    for (const command of skill.manifest.commands) {
      if (this.#core.commands.get(command.name)?.skill === skill.name) this.#core.commands.unregister(command.name);
    }
    this.#supervisor.unload(skill.spec);
    if (skill.listenerSpec !== undefined) this.#supervisor.unload(skill.listenerSpec);
  }

  #requireSkill(name: string): LoadedSkill {
    const skill = this.#skills.get(name);
    if (skill === undefined)
      throw new SwitchboardError("E_NOT_FOUND", `skill ${name} is not loaded`, {
        chatMessage: `There is no skill named ${name}.`,
      });
    return skill;
  }
}

/** What a skill listens to, in words (`/skills info`), or undefined when it listens to nothing. */
function describeEvents(manifest: SkillManifest): string | undefined {
  const e = manifest.events;
  const parts: string[] = [];
  if (e.messages !== undefined) parts.push(`every message matching ${e.messages.pattern}`);
  if (e.reactions === true) parts.push("reactions");
  if ((e.hooks?.length ?? 0) > 0) parts.push(`hooks ${e.hooks?.join(", ")}`);
  if (e.schedule === true) parts.push("schedule fires");
  if ((e.lifecycle?.length ?? 0) > 0) parts.push(`being ${e.lifecycle?.join(", ")}`);
  return parts.length === 0 ? undefined : parts.join(", ");
}

/** The key of a (chat, skill) listener queue. */
function listenerKey(chatKey: string, skill: string): string {
  return `${chatKey}\u0000${skill}`;
}

/** Whether a manifest subscribes to any event. */
function listens(manifest: SkillManifest): boolean {
  const e = manifest.events;
  return (
    e.messages !== undefined ||
    (e.hooks?.length ?? 0) > 0 ||
    e.reactions === true ||
    e.schedule === true ||
    (e.lifecycle?.length ?? 0) > 0
  );
}

/** The tree flags a manifest node declares, as a command node carries them. */
function nodeFlags(node: {
  confirm?: boolean | undefined;
  approvals?: number | undefined;
  dangerous?: boolean | undefined;
}) {
  return {
    ...(node.confirm === undefined ? {} : { confirm: node.confirm }),
    ...(node.approvals === undefined ? {} : { approvals: node.approvals }),
    ...(node.dangerous === undefined ? {} : { dangerous: node.dangerous }),
  };
}

/**
 * The command a tool acts as: the one its manifest names, else the command named like the skill, else the skill's
 * first. A tool of a skill without commands answers to the skill's role alone.
 */
function commandOfTool(
  skill: string,
  manifest: SkillManifest,
  tool: SkillManifest["tools"][number],
): { command?: string } {
  if (tool.command !== undefined) return { command: tool.command };
  const own = manifest.commands.find((c) => c.name === skill) ?? manifest.commands[0];
  return own === undefined ? {} : { command: own.name };
}

const WHAT: Readonly<Record<string, string>> = {
  timeout: "went over its time limit",
  cpu: "went over its CPU time limit",
  memory: "went over its memory limit",
  "too-large": "returned too much data",
  crashed: "crashed",
};

/**
 * The error a chat sees for a failed invocation, naming the real cause: the budget refusal or capability denial
 * the skill failed with (only when the error it threw is that one), the limit it hit, or what it threw.
 */
function failureError(f: {
  skill: string;
  failure: string;
  detail: string;
  inv: Invocation;
  quarantine: QuarantineRecord | undefined;
}): SwitchboardError {
  const { skill, failure, detail, inv, quarantine } = f;
  const isLimit = failure === "timeout" || failure === "cpu" || failure === "memory" || failure === "too-large";
  const details = { skill, failure };
  if (failure === "threw") {
    const thrown = thrownError(detail);
    const cause = [inv.budget.firstRefusal, inv.denial].find(
      (e) => e !== undefined && thrown?.code === e.code && thrown.message === e.chatMessage,
    );
    if (cause?.code === "E_SKILL_BUDGET")
      return new SwitchboardError("E_SKILL_BUDGET", cause.message, {
        chatMessage: `The skill ${skill} went ${cause.chatMessage}.`,
        details,
      });
    if (cause !== undefined) return cause;
    const what =
      thrown === undefined
        ? `: it threw ${JSON.stringify(detail.slice(0, 160))}`
        : `: it threw ${thrown.code === null ? "" : `${thrown.code} `}${JSON.stringify(thrown.message.slice(0, 160))}`;
    return new SwitchboardError("E_SKILL_FAILED", `skill ${skill} threw${what}`, {
      chatMessage: `The skill ${skill} failed and was stopped${cleanChatText(what)}.`,
      details,
    });
  }
  if (failure === "crashed" && detail.includes(RESTARTING)) {
    // The call never ran: the skill's host crashed before and waits out its restart backoff (which grows with
    // crashes in a row). "Crashed … and was stopped" would say this call crashed it.
    return new SwitchboardError("E_SKILL_FAILED", `skill ${skill} not run: ${detail.slice(0, 200)}`, {
      chatMessage: `The skill ${skill} did not run: its host crashed before and is starting again. Try again in a few seconds.`,
      details,
    });
  }
  const reason = Object.hasOwn(WHAT, failure) ? WHAT[failure] : "failed";
  const hostCrash = failure === "crashed" || (failure === "memory" && /host stopped/.test(detail));
  const tail =
    quarantine !== undefined && hostCrash
      ? ` It kept crashing and is now turned off; a chat admin can turn it back on with /skills enable ${skill}.`
      : "";
  const refused = inv.budget.refusedTotal;
  const budgetNote =
    refused === 0 || inv.budget.firstRefusal === undefined
      ? ""
      : ` Before that, ${refused} of its calls were refused: it went ${inv.budget.firstRefusal.chatMessage}.`;
  return new SwitchboardError(
    isLimit ? "E_SKILL_LIMIT" : "E_SKILL_FAILED",
    `skill ${skill} ${failure}: ${detail.slice(0, 200)}`,
    {
      chatMessage: `The skill ${skill} ${reason}${hostCrash ? " (its host process was stopped)" : ""} and was stopped.${budgetNote}${tail}`,
      details,
    },
  );
}

/** The `{ code, message }` a skill threw, from the host's failure envelope. */
function thrownError(detail: string): { code: string | null; message: string } | undefined {
  try {
    const parsed = JSON.parse(detail) as { error?: { code?: unknown; message?: unknown } };
    const error = parsed.error;
    if (error === undefined || typeof error.message !== "string") return undefined;
    return { code: typeof error.code === "string" ? error.code : null, message: error.message };
  } catch {
    return undefined;
  }
}

/** The note added to a reply when some of the invocation's calls were refused over its budget. */
function overBudgetNote(skill: string, inv: Invocation): string | undefined {
  const first = inv.budget.firstRefusal;
  if (first === undefined) return undefined;
  const n = inv.budget.refusedTotal;
  return `(The skill ${skill} went ${first.chatMessage}; ${n} call${n === 1 ? " was" : "s were"} refused.)`;
}

function chatOf(inbound: Inbound, chatKey: string): { id: string; platform: string; kind: string; title?: string } {
  return {
    id: chatKey,
    platform: inbound.platform,
    kind: inbound.chat.kind,
    ...(inbound.chat.title === undefined ? {} : { title: inbound.chat.title }),
  };
}

function targetOf(inbound: Inbound): ConversationTarget {
  return {
    platform: inbound.platform,
    chatId: inbound.chat.id,
    ...(inbound.threadId === undefined ? {} : { threadId: inbound.threadId }),
  };
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Where a skill's event handlers are placed in the supervisor: beside its commands, never with them. */
export function listenerSlot(skill: string): string {
  return `${skill}+events`;
}
