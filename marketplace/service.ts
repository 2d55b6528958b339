/**
 * The marketplace service: one object the chat commands and the CLI drive. It owns the registry client and the
 * installer, loads installed skills into the runtime only after their files match the lockfile, keeps the runtime
 * in step after install/update/rollback/uninstall, and audits every operator action.
 */
import semver from "semver";
import { join } from "node:path";
import type { AuditEntry, Clock } from "../bot/index.ts";
import { SwitchboardError, systemClock, toSwitchboardError } from "../bot/index.ts";
import type { SkillService } from "../skills/index.ts";
import { Installer, type InstallOptions, type InstallResult } from "./installer.ts";
import type { LockEntry } from "./lockfile.ts";
import { RegistryClient } from "./registry.ts";
import { registrySettings } from "./registry-options.ts";
import type { MarketplaceConfig, SkillInfo, SkillSearchHit } from "./types.ts";

/** The parts of the skill runtime the marketplace drives. */
export type SkillRuntime = Pick<
  SkillService,
  | "describeLimits"
  | "load"
  | "unload"
  | "get"
  | "list"
  | "state"
  | "pendingPermissions"
  | "enable"
  | "disable"
  | "enabledIn"
  | "forgetGrants"
  | "feedEvent"
  | "setSetting"
  | "getSettings"
>;

/** Minimal logger (pino's shape). */
export interface MarketplaceLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the service needs. */
export interface MarketplaceOptions {
  config: MarketplaceConfig;
  /** Installed skills folder (`<dataDir>/skills`). */
  skillsDir: string;
  /** pacote/npm cache folder (outside the skills folder). */
  cacheDir: string;
  skills?: SkillRuntime | undefined;
  audit?: ((entry: Omit<AuditEntry, "at" | "id">) => Promise<void>) | undefined;
  /** Clears a skill's stored data (`skill:<name>` in the durable key-value store). Returns entries removed. */
  purgeData?: ((skill: string) => Promise<number>) | undefined;
  log?: MarketplaceLog | undefined;
  clock?: Clock;
  env?: Readonly<Record<string, string | undefined>>;
}

/** The state of an installed skill, for `list`. */
export interface InstalledSkill {
  entry: LockEntry;
  /** `loaded`, `not loaded` (CLI, or the runtime is off) or the reason it was refused. */
  status: "loaded" | "not-loaded" | "refused";
  reason?: string | undefined;
}

/** Search, install, update, roll back, remove and verify skills; keep the runtime in step. */
export class Marketplace {
  readonly registry: RegistryClient;
  readonly installer: Installer;
  readonly #options: MarketplaceOptions;
  readonly #refused = new Map<string, string>();

  constructor(options: MarketplaceOptions) {
    this.#options = options;
    const settings = registrySettings(options.config, options.env);
    this.registry = new RegistryClient({
      settings,
      cacheDir: options.cacheDir,
      timeoutMs: options.config.timeoutMs,
      requireSignatures: options.config.requireSignatures,
    });
    this.installer = new Installer({
      skillsDir: options.skillsDir,
      registry: this.registry,
      limits: {
        maxFiles: options.config.maxFiles,
        maxUnpackedBytes: options.config.maxUnpackedBytes,
        maxTarballBytes: options.config.maxTarballBytes,
      },
      clock: options.clock ?? systemClock,
    });
  }

  /** The default folders under a data folder. */
  static dirs(dataDir: string, skillsDir?: string): { skillsDir: string; cacheDir: string } {
    return { skillsDir: skillsDir ?? join(dataDir, "skills"), cacheDir: join(dataDir, ".cache", "marketplace") };
  }

  search(text: string, options: { size?: number } = {}): Promise<SkillSearchHit[]> {
    return this.registry.search(text, options);
  }

  info(name: string): Promise<SkillInfo> {
    return this.registry.info(name);
  }

  /** Installed skills with their load state. */
  async list(): Promise<InstalledSkill[]> {
    const entries = await this.installer.list();
    return entries.map((entry) => {
      const reason = this.#refused.get(entry.name);
      if (reason !== undefined) return { entry, status: "refused", reason };
      const loaded = this.#options.skills?.get(entry.skill);
      return { entry, status: loaded !== undefined && loaded.version === entry.version ? "loaded" : "not-loaded" };
    });
  }

  /** An installed skill by package name or skill name. */
  async find(nameOrSkill: string): Promise<LockEntry | undefined> {
    const entries = await this.installer.list();
    return entries.find((e) => e.name === nameOrSkill) ?? entries.find((e) => e.skill === nameOrSkill);
  }

  /** Install and (when the runtime runs) load. A skill that fails to load is removed again. Audited. */
  async install(spec: string, options: InstallOptions): Promise<InstallResult> {
    const before = await this.installer.get(specName(spec));
    const result = await this.installer.install(spec, options);
    if (result.status === "installed")
      await this.#afterChange(result, before, { action: "skills.install", actor: options.actor });
    return result;
  }

  /** Update within the recorded range; new permissions are shown in the plan. Audited. */
  async update(name: string, options: InstallOptions & { range?: string }): Promise<InstallResult> {
    const entry = await this.#require(name);
    const result = await this.installer.update(entry.name, options);
    if (result.status === "installed")
      await this.#afterChange(result, entry, { action: "skills.update", actor: options.actor });
    return result;
  }

  /**
   * The newest published version above the installed one that the pinned range excludes (`update` never moves
   * there on its own), or undefined. Deprecated versions are skipped.
   */
  async newerOutsideRange(entry: Pick<LockEntry, "name" | "version" | "range">): Promise<string | undefined> {
    const info = await this.registry.info(entry.name);
    const newest = info.versions.find(
      (v) =>
        v.deprecated === undefined &&
        semver.prerelease(v.version) === null &&
        semver.gt(v.version, entry.version) &&
        !semver.satisfies(v.version, entry.range),
    );
    return newest?.version;
  }

  /** Return to the previous pinned version. Audited. */
  async rollback(name: string, actor: string): Promise<{ from: string; to: LockEntry }> {
    const entry = await this.#require(name);
    const result = await this.installer.rollback(entry.name, actor);
    await this.#load(result.to);
    await this.#audit({
      actor,
      chatKey: "*",
      action: "skills.rollback",
      target: entry.name,
      before: { version: result.from },
      after: { version: result.to.version },
    });
    return result;
  }

  /** Remove files, lockfile entry and every chat's grant; with `purgeData` also the stored data. Audited. */
  async uninstall(
    name: string,
    actor: string,
    options: { purgeData?: boolean } = {},
  ): Promise<{ entry: LockEntry; purged: number | undefined }> {
    const entry = await this.#require(name);
    await this.#options.skills?.unload(entry.skill);
    const removed = await this.installer.uninstall(entry.name);
    this.#refused.delete(entry.name);
    // Grants go with the skill: a reinstall is a new consent in every chat.
    await this.#options.skills?.forgetGrants(entry.skill, actor);
    let purged: number | undefined;
    if (options.purgeData === true) purged = await this.purgeData(entry.skill, actor);
    await this.#audit({
      actor,
      chatKey: "*",
      action: "skills.uninstall",
      target: entry.name,
      before: { version: removed.version },
      after: null,
    });
    return { entry: removed, purged };
  }

  /** Delete a skill's stored data (all chats). Audited. */
  async purgeData(skill: string, actor: string): Promise<number> {
    if (this.#options.purgeData === undefined)
      throw new SwitchboardError("E_STORAGE", "no store to purge skill data from");
    const count = await this.#options.purgeData(skill);
    await this.#audit({ actor, chatKey: "*", action: "skills.purge", target: skill, after: { entries: count } });
    return count;
  }

  /** Check installed skills against the lockfile. */
  async verify(name?: string): Promise<Array<{ name: string; version: string; problems: string[] }>> {
    const entries = name === undefined ? await this.installer.list() : [await this.#require(name)];
    const out = [];
    for (const entry of entries)
      out.push({ name: entry.name, version: entry.version, problems: await this.installer.verify(entry) });
    return out;
  }

  /** Load every installed skill whose files match the lockfile; tampered ones are refused, logged and audited. */
  async loadAll(): Promise<{ loaded: string[]; refused: Array<{ name: string; reason: string }> }> {
    const loaded: string[] = [];
    const refused: Array<{ name: string; reason: string }> = [];
    let entries: LockEntry[];
    try {
      entries = await this.installer.list();
    } catch (error) {
      this.#options.log?.error({ err: error }, "cannot read the skills lockfile; no installed skill loaded");
      return { loaded, refused };
    }
    for (const entry of entries) {
      try {
        await this.#load(entry);
        loaded.push(entry.name);
      } catch (error) {
        const e = toSwitchboardError(error);
        refused.push({ name: entry.name, reason: e.chatMessage });
      }
    }
    return { loaded, refused };
  }

  /**
   * Bring the runtime in step with the lockfile (after another process, such as the CLI, changed it): load new
   * or changed versions (checked first), unload installed skills no longer in it.
   */
  async sync(): Promise<{ loaded: string[]; unloaded: string[] }> {
    const skills = this.#options.skills;
    if (skills === undefined) return { loaded: [], unloaded: [] };
    const entries = await this.installer.list();
    const loaded: string[] = [];
    const unloaded: string[] = [];
    for (const entry of entries) {
      const current = skills.get(entry.skill);
      if (current !== undefined && current.source === "installed" && current.version === entry.version) continue;
      if (this.#refused.has(entry.name) && (await this.installer.verify(entry)).length > 0) continue;
      try {
        await this.#load(entry);
        loaded.push(entry.name);
      } catch {
        // refused and recorded by #load
      }
    }
    const names = new Set(entries.map((e) => e.skill));
    for (const skill of skills.list()) {
      if (skill.source === "installed" && !names.has(skill.name)) {
        await skills.unload(skill.name);
        unloaded.push(skill.name);
      }
    }
    return { loaded, unloaded };
  }

  async #load(entry: LockEntry): Promise<void> {
    const skills = this.#options.skills;
    if (skills === undefined) return;
    try {
      const dir = await this.installer.verifiedDir(entry);
      await skills.load(dir, { source: "installed" });
      this.#refused.delete(entry.name);
    } catch (error) {
      const e = toSwitchboardError(error);
      this.#refused.set(entry.name, e.chatMessage);
      this.#options.log?.error({ err: error, skill: entry.name, version: entry.version }, "installed skill refused");
      await this.#audit({
        actor: "system",
        chatKey: "*",
        action: "skills.refused",
        target: entry.name,
        after: { version: entry.version, reason: e.chatMessage },
      });
      throw e;
    }
  }

  async #afterChange(
    result: InstallResult,
    before: LockEntry | undefined,
    { action, actor }: { action: string; actor: string },
  ): Promise<void> {
    const entry = result.entry!;
    try {
      await this.#load(entry);
    } catch (error) {
      // Never leave an installed version the runtime refused: go back to what was there.
      if (before === undefined) {
        await this.installer.uninstall(entry.name).catch(() => undefined);
      } else {
        const back = await this.installer.rollback(entry.name, actor).catch(() => undefined);
        if (back !== undefined) await this.#load(back.to).catch(() => undefined);
      }
      throw error;
    }
    await this.#audit({
      actor,
      chatKey: "*",
      action,
      target: entry.name,
      before: before === undefined ? null : { version: before.version, permissions: before.approvedPermissions },
      after: {
        version: entry.version,
        integrity: entry.integrity,
        permissions: entry.approvedPermissions,
        added: result.plan.diff.added,
      },
    });
  }

  async #require(name: string): Promise<LockEntry> {
    const entry = await this.find(name);
    if (entry === undefined)
      throw new SwitchboardError("E_NOT_FOUND", `${name} is not installed`, {
        chatMessage: `${name} is not installed.`,
      });
    return entry;
  }

  async #audit(entry: Omit<AuditEntry, "at" | "id">): Promise<void> {
    if (this.#options.audit === undefined) return;
    try {
      await this.#options.audit(entry);
    } catch (error) {
      this.#options.log?.warn({ err: error, action: entry.action }, "could not write audit entry");
    }
  }
}

function specName(spec: string): string {
  const at = spec.lastIndexOf("@");
  return at > 0 ? spec.slice(0, at) : spec;
}
