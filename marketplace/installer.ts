/**
 * The installer: resolve → download (size-limited, integrity-checked) → read the tarball with every entry
 * checked → check the manifest → show the plan (permissions, what is new) → write into a staging folder →
 * rename into `<skillsDir>/<name>/<version>/` → record in the lockfile. Nothing from a package is ever run.
 * A failure at any step leaves the previous state untouched; the staging folder is removed.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import semver from "semver";
import { SwitchboardError, systemClock, type Clock } from "../bot/index.ts";
import { hashFiles, LockfileStore, verifyFiles, type LockEntry, type LockedVersion } from "./lockfile.ts";
import { checkPackage, type CheckedPackage } from "./manifest-check.ts";
import { diffPermissions, type PermissionDiff } from "./permission-diff.ts";
import type { RegistryClient, ResolvedPackage } from "./registry.ts";
import { readPackageTarball, writePackageFiles, type TarballLimits } from "./tarball.ts";
import type { ProgressListener } from "./types.ts";

/** What an install or update is about to do, shown before anything is written. */
export interface InstallPlan {
  name: string;
  version: string;
  /** The version installed now, if any. */
  fromVersion?: string | undefined;
  kind: "install" | "update" | "reinstall" | "downgrade";
  permissions: string[];
  /** Against the permissions approved for the installed version (all of them are new on a first install). */
  diff: PermissionDiff;
  changelog?: string | undefined;
  description: string;
  signatureVerified: boolean;
}

/** Decides whether to go ahead (the CLI asks the operator; `--yes` answers yes). */
export type ConfirmPlan = (plan: InstallPlan) => Promise<boolean> | boolean;

/** Options for one install or update. */
export interface InstallOptions {
  /** Who approves (`cli:<user>`, `telegram:123`); recorded in the lockfile. */
  actor: string;
  allowDowngrade?: boolean;
  confirm?: ConfirmPlan;
  onProgress?: ProgressListener;
}

/** The result of an install/update. */
export interface InstallResult {
  status: "installed" | "unchanged" | "cancelled";
  plan: InstallPlan;
  entry?: LockEntry;
}

/** Options for the installer. */
export interface InstallerOptions {
  skillsDir: string;
  registry: RegistryClient;
  limits: TarballLimits & { maxTarballBytes: number };
  clock?: Clock;
}

const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/** Split `name@range` (scoped names keep their leading `@`). Throws `E_BAD_ARGS` for a bad name. */
export function parseSpec(spec: string): { name: string; range: string | undefined } {
  const at = spec.lastIndexOf("@");
  const name = at > 0 ? spec.slice(0, at) : spec;
  const range = at > 0 ? spec.slice(at + 1) : undefined;
  if (!NAME.test(name) || name.length > 214) {
    throw new SwitchboardError("E_BAD_ARGS", `not a package name: ${JSON.stringify(spec)}`, {
      chatMessage: `${JSON.stringify(spec)} is not a package name.`,
    });
  }
  if (range !== undefined && range !== "" && semver.validRange(range) === null && !/^[a-z][a-z0-9._-]*$/i.test(range)) {
    throw new SwitchboardError("E_BAD_ARGS", `not a version range: ${JSON.stringify(range)}`, {
      chatMessage: `${JSON.stringify(range)} is not a version or range.`,
    });
  }
  return { name, range: range === "" ? undefined : range };
}

/** Installs, updates, rolls back, removes and verifies skills in one folder. */
export class Installer {
  readonly skillsDir: string;
  readonly lockfile: LockfileStore;
  readonly #options: InstallerOptions;
  readonly #clock: Clock;

  constructor(options: InstallerOptions) {
    this.#options = options;
    this.skillsDir = options.skillsDir;
    this.lockfile = new LockfileStore(options.skillsDir);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Remove what interrupted installs left in the staging folder (never loaded: nothing names it). Entries younger
   * than `olderThanMs` may belong to an install running in another process and are kept.
   */
  async cleanStaging(olderThanMs = 10 * 60_000): Promise<number> {
    const root = join(this.skillsDir, ".staging");
    const entries = await readdir(root).catch(() => [] as string[]);
    let removed = 0;
    for (const entry of entries) {
      const info = await stat(join(root, entry)).catch(() => undefined);
      if (info === undefined || this.#clock.now() - info.mtimeMs < olderThanMs) continue;
      await rm(join(root, entry), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /** The folder a version lives in. */
  dirOf(name: string, version: string): string {
    return join(this.skillsDir, ...name.split("/"), version);
  }

  /** Every installed skill. */
  async list(): Promise<LockEntry[]> {
    const lock = await this.lockfile.read();
    return Object.values(lock.skills).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One installed skill, or undefined. */
  async get(name: string): Promise<LockEntry | undefined> {
    const lock = await this.lockfile.read();
    return Object.hasOwn(lock.skills, name) ? lock.skills[name] : undefined;
  }

  /** Install `name[@range]`. A downgrade needs `allowDowngrade`. */
  async install(spec: string, options: InstallOptions): Promise<InstallResult> {
    const { name, range } = parseSpec(spec);
    const existing = await this.get(name);
    const resolved = await this.#options.registry.resolve(name, range ?? "latest");
    const recordRange = range !== undefined && semver.validRange(range) !== null ? range : `^${resolved.version}`;
    return this.#installResolved(resolved, { range: recordRange, existing }, options);
  }

  /** Update within the recorded range (or to `range` when given). */
  async update(name: string, options: InstallOptions & { range?: string }): Promise<InstallResult> {
    const existing = await this.get(name);
    if (existing === undefined) throw notInstalled(name);
    const range = options.range ?? existing.range;
    const resolved = await this.#options.registry.resolve(name, range);
    return this.#installResolved(resolved, { range: options.range ?? existing.range, existing }, options);
  }

  async #installResolved(
    resolved: ResolvedPackage,
    { range, existing }: { range: string; existing: LockEntry | undefined },
    options: InstallOptions,
  ): Promise<InstallResult> {
    const { name, version } = resolved;
    const step = (s: string): void => options.onProgress?.({ kind: "step", name, version, step: s });
    let kind: InstallPlan["kind"] = "install";
    if (existing !== undefined) {
      const cmp = semver.compare(version, existing.version);
      kind = cmp > 0 ? "update" : cmp === 0 ? "reinstall" : "downgrade";
      if (kind === "downgrade" && options.allowDowngrade !== true) {
        throw new SwitchboardError(
          "E_CONFLICT",
          `${name}: ${version} is older than the installed ${existing.version}`,
          {
            chatMessage: `Refused: ${name}@${version} is older than the installed ${existing.version}. Use --allow-downgrade (or rollback) to go back.`,
          },
        );
      }
      if (kind === "reinstall" && existing.integrity === resolved.integrity) {
        const intact = (await verifyFiles(this.dirOf(name, version), existing.files)).length === 0;
        if (intact) {
          const plan = this.#plan(resolved, undefined, { existing, kind });
          return { status: "unchanged", plan, entry: existing };
        }
      }
    }
    step("download");
    const tgz = await this.#options.registry.download(resolved, {
      maxBytes: this.#options.limits.maxTarballBytes,
      onProgress: options.onProgress,
    });
    step("verify");
    const files = await readPackageTarball(tgz, name, this.#options.limits);
    const checked = checkPackage(files, { name, version });
    const plan = this.#plan(resolved, checked, { existing, kind });
    if (options.confirm !== undefined && !(await options.confirm(plan))) return { status: "cancelled", plan };

    step("extract");
    const stagingRoot = join(this.skillsDir, ".staging");
    const staging = join(stagingRoot, `${name.replace("/", "+")}-${version}-${randomBytes(4).toString("hex")}`);
    const target = this.dirOf(name, version);
    let moved = false;
    try {
      await mkdir(staging, { recursive: true });
      await writePackageFiles(staging, files);
      const hashes = hashFiles(files.files);
      step("install");
      const entry = await this.lockfile.update(async (lock) => {
        const current = Object.hasOwn(lock.skills, name) ? lock.skills[name] : undefined;
        await mkdir(join(target, ".."), { recursive: true });
        if (await exists(target)) {
          // A leftover or a version being replaced: swap it out, never merge into it.
          const trash = `${staging}.old`;
          await rename(target, trash);
          try {
            await rename(staging, target);
          } catch (error) {
            await rename(trash, target);
            throw error;
          }
          await rm(trash, { recursive: true, force: true });
        } else {
          await rename(staging, target);
        }
        moved = true;
        const version_: LockedVersion = {
          version,
          skill: checked.skill,
          integrity: resolved.integrity,
          registry: resolved.registry,
          resolved: resolved.resolved,
          permissions: checked.permissions,
          approvedPermissions: checked.permissions,
          approvedBy: options.actor,
          installedAt: this.#clock.now(),
          files: hashes,
          changelog: checked.changelog,
        };
        const previous =
          current === undefined || current.version === version ? current?.previous : stripPrevious(current);
        const next: LockEntry = { name, range, ...version_, previous };
        lock.skills[name] = next;
        // The old previous version is dropped once the lockfile no longer names it.
        const stale = current?.previous?.version;
        const drop = stale !== undefined && stale !== version && stale !== previous?.version ? [stale] : [];
        return { entry: next, drop };
      });
      for (const v of entry.drop) await rm(this.dirOf(name, v), { recursive: true, force: true });
      step("done");
      return { status: "installed", plan, entry: entry.entry };
    } catch (error) {
      if (moved && existing?.version !== version && existing?.previous?.version !== version) {
        await rm(target, { recursive: true, force: true }).catch(() => undefined);
      }
      throw error;
    } finally {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  #plan(
    resolved: ResolvedPackage,
    checked: CheckedPackage | undefined,
    { existing, kind }: { existing: LockEntry | undefined; kind: InstallPlan["kind"] },
  ): InstallPlan {
    const permissions = checked?.permissions ?? existing?.permissions ?? [];
    return {
      name: resolved.name,
      version: resolved.version,
      fromVersion: existing?.version,
      kind,
      permissions,
      diff: diffPermissions(existing?.approvedPermissions ?? [], permissions),
      changelog: checked?.changelog,
      description: checked?.description ?? "",
      signatureVerified: resolved.signatureVerified,
    };
  }

  /** Go back to the previous pinned version (its files are checked first). The current one becomes `previous`. */
  async rollback(name: string, actor: string): Promise<{ from: string; to: LockEntry }> {
    return this.lockfile.update(async (lock) => {
      const current = Object.hasOwn(lock.skills, name) ? lock.skills[name] : undefined;
      if (current === undefined) throw notInstalled(name);
      const previous = current.previous;
      if (previous === undefined) {
        throw new SwitchboardError("E_CONFLICT", `${name} has no previous version`, {
          chatMessage: `${name} has no previous version to roll back to.`,
        });
      }
      const problems = await verifyFiles(this.dirOf(name, previous.version), previous.files);
      if (problems.length > 0) throw tampered(name, previous.version, problems);
      const next: LockEntry = {
        name,
        range: current.range,
        ...previous,
        approvedBy: previous.approvedBy,
        previous: stripPrevious(current),
      };
      void actor;
      lock.skills[name] = next;
      return { from: current.version, to: next };
    });
  }

  /** Remove a skill's files and its lockfile entry. */
  async uninstall(name: string): Promise<LockEntry> {
    const removed = await this.lockfile.update((lock) => {
      const current = Object.hasOwn(lock.skills, name) ? lock.skills[name] : undefined;
      if (current === undefined) throw notInstalled(name);
      delete lock.skills[name];
      return current;
    });
    await rm(join(this.skillsDir, ...name.split("/")), { recursive: true, force: true });
    if (name.startsWith("@"))
      await rm(join(this.skillsDir, name.split("/")[0]!), { recursive: false }).catch(() => undefined);
    return removed;
  }

  /** Check an installed skill's files against the lockfile. Empty: intact. */
  async verify(entry: LockEntry): Promise<string[]> {
    return verifyFiles(this.dirOf(entry.name, entry.version), entry.files);
  }

  /** Like `verify`, but throws a clear `E_INTEGRITY` for a tampered skill. Returns the folder to load. */
  async verifiedDir(entry: LockEntry): Promise<string> {
    const problems = await this.verify(entry);
    if (problems.length > 0) throw tampered(entry.name, entry.version, problems);
    return this.dirOf(entry.name, entry.version);
  }
}

function stripPrevious(entry: LockEntry): LockedVersion {
  const { name: _n, range: _r, previous: _p, ...version } = entry;
  return version;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function notInstalled(name: string): SwitchboardError {
  return new SwitchboardError("E_NOT_FOUND", `${name} is not installed`, { chatMessage: `${name} is not installed.` });
}

/** The error for a skill whose files changed on disk since install. */
export function tampered(name: string, version: string, problems: string[]): SwitchboardError {
  const shown = problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : "");
  return new SwitchboardError("E_INTEGRITY", `${name}@${version} does not match the lockfile: ${shown}`, {
    chatMessage: `Refused to load ${name}@${version}: its files changed on disk since it was installed (${shown}). Reinstall it.`,
    details: { problems },
  });
}
