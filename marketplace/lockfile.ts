/**
 * The lockfile, `<dataDir>/skills/switchboard-lock.json`: for each installed skill its pinned version,
 * integrity, registry, the permissions the operator approved, a sha512 of every file, and the previous version
 * (kept on disk for rollback). Written atomically (temp file + rename) under a lock file so two processes never
 * interleave; read fresh for every operation.
 */
import { createHash } from "node:crypto";
import { open, readFile, readdir, rename, rm, writeFile, stat } from "node:fs/promises";
import type { Dirent } from "node:fs";
import { join } from "node:path";
import { SwitchboardError } from "../bot/index.ts";

/** One installed version of a skill. */
export interface LockedVersion {
  version: string;
  /** The skill's name in chats (from the manifest; `@acme/switchboard-skill-dice` → `dice`). */
  skill: string;
  /** `dist.integrity` of the tarball (sha512). */
  integrity: string;
  /** Registry it was installed from (trailing slash). */
  registry: string;
  /** Tarball URL it was downloaded from. */
  resolved: string;
  /** Permissions the manifest requests, flattened. */
  permissions: string[];
  /** Permissions the operator approved for this version, flattened. */
  approvedPermissions: string[];
  /** Who installed/approved it (`cli:<user>`, `telegram:123`). */
  approvedBy: string;
  /** Epoch ms. */
  installedAt: number;
  /** Relative path → `sha512-<base64>` of every file. */
  files: Record<string, string>;
  /** The manifest's changelog line for this version, when it has one. */
  changelog?: string | undefined;
}

/** One skill in the lockfile. */
export interface LockEntry extends LockedVersion {
  name: string;
  /** The range asked for at install (`^1.0.0`); `update` stays within it. */
  range: string;
  /** The version before the last install/update, kept for rollback. */
  previous?: LockedVersion | undefined;
}

/** The whole lockfile. */
export interface Lockfile {
  lockfileVersion: 1;
  skills: Record<string, LockEntry>;
}

/** The lockfile's file name. */
export const LOCKFILE_NAME = "switchboard-lock.json";

/** `sha512-<base64>` of a buffer (the ssri form npm uses). */
export function sha512(data: Buffer): string {
  return `sha512-${createHash("sha512").update(data).digest("base64")}`;
}

/** Hash every file of a package (in memory), sorted by path. */
export function hashFiles(files: ReadonlyMap<string, Buffer>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of [...files.keys()].sort()) out[path] = sha512(files.get(path)!);
  return out;
}

/** Reads and writes the lockfile of one skills folder. */
export class LockfileStore {
  readonly path: string;
  readonly #lockPath: string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(skillsDir: string) {
    this.path = join(skillsDir, LOCKFILE_NAME);
    this.#lockPath = `${this.path}.lock`;
  }

  /** The current lockfile (empty when there is none). Throws `E_MARKETPLACE` when it is not valid JSON. */
  async read(): Promise<Lockfile> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { lockfileVersion: 1, skills: {} };
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new SwitchboardError("E_MARKETPLACE", `lockfile ${this.path} is not valid JSON`, { cause: error });
    }
    const lock = parsed as Lockfile;
    if (
      lock === null ||
      typeof lock !== "object" ||
      lock.lockfileVersion !== 1 ||
      typeof lock.skills !== "object" ||
      lock.skills === null
    ) {
      throw new SwitchboardError("E_MARKETPLACE", `lockfile ${this.path} has an unknown format`);
    }
    return lock;
  }

  /** Run `change` on the lockfile under the lock and write the result atomically. */
  async update<T>(change: (lock: Lockfile) => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => {
      const release = await this.#acquire();
      try {
        const lock = await this.read();
        const result = await change(lock);
        const tmp = `${this.path}.${process.pid}.${Date.now()}.tmp`;
        await writeFile(tmp, `${JSON.stringify(lock, null, 2)}\n`, { mode: 0o644 });
        await rename(tmp, this.path);
        return result;
      } finally {
        await release();
      }
    };
    const next = this.#chain.then(run, run);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Cross-process lock: a file created exclusively; a lock older than a minute is taken as stale. */
  async #acquire(timeoutMs = 30_000): Promise<() => Promise<void>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const handle = await open(this.#lockPath, "wx");
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => rm(this.#lockPath, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const info = await stat(this.#lockPath).catch(() => undefined);
        if (info !== undefined && Date.now() - info.mtimeMs > 60_000) {
          await rm(this.#lockPath, { force: true });
          continue;
        }
        if (Date.now() > deadline)
          throw new SwitchboardError("E_MARKETPLACE", `lockfile ${this.path} is locked by another process`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/** Problems found when checking an installed folder against its recorded hashes (empty: intact). */
export async function verifyFiles(dir: string, expected: Readonly<Record<string, string>>): Promise<string[]> {
  const problems: string[] = [];
  const found = new Set<string>();
  const walk = async (d: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (error) {
      problems.push(
        `cannot read ${prefix === "" ? "the skill folder" : prefix}: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
      );
      return;
    }
    for (const e of entries) {
      const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
      if (e.isDirectory()) await walk(join(d, e.name), rel);
      else if (e.isFile()) found.add(rel);
      else problems.push(`${rel} is not a regular file`);
    }
  };
  await walk(dir, "");
  for (const [rel, hash] of Object.entries(expected)) {
    if (!found.has(rel)) {
      problems.push(`${rel} is missing`);
      continue;
    }
    const actual = sha512(await readFile(join(dir, rel)));
    if (actual !== hash) problems.push(`${rel} was modified`);
  }
  for (const rel of found) if (!Object.hasOwn(expected, rel)) problems.push(`${rel} was added`);
  return problems.sort();
}
