/**
 * A pristine PGlite cluster, cached. Creating a cluster (initdb in WebAssembly) takes seconds; loading a snapshot
 * of a fresh one takes a fraction of that. The first cluster this user creates is dumped (before any migration or
 * data) to `<cache>/switchboard/pglite-<version>.tar.gz` and reused for every later in-memory store and new data
 * folder. The cache lives in the user's own cache folder (`$XDG_CACHE_HOME` or `~/.cache`), never a shared temp
 * folder, and a file not owned by this user or writable by others is ignored. `SWITCHBOARD_PGLITE_TEMPLATE=0`
 * turns the cache off.
 */
import { createRequire } from "node:module";
import { lstat, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import type { PGlite } from "@electric-sql/pglite";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

function pgliteVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve("@electric-sql/pglite");
    const pkg = require(join(dirname(entry), "..", "package.json")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function isEnabled(): boolean {
  return process.env.SWITCHBOARD_PGLITE_TEMPLATE !== "0";
}

/** Where the template is cached for this user and PGlite version. */
export function templatePath(): string {
  const base =
    process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== ""
      ? process.env.XDG_CACHE_HOME
      : join(homedir(), ".cache");
  return join(base, "switchboard", `pglite-${pgliteVersion()}.tar.gz`);
}

let cached: Promise<Blob | undefined> | undefined;

async function isTrusted(path: string): Promise<boolean> {
  const info = await lstat(path);
  const uid = process.getuid?.();
  return info.isFile() && (uid === undefined || info.uid === uid) && (info.mode & 0o022) === 0;
}

async function readTemplate(): Promise<Blob | undefined> {
  try {
    const path = templatePath();
    if (!(await isTrusted(path))) return undefined;
    const tar = await gunzipAsync(await readFile(path));
    // A damaged file is treated as absent; the next cluster created replaces it.
    if (tar.length < 1_000_000 || !tar.includes("PG_VERSION") || !tar.includes("global/pg_control")) return undefined;
    return new Blob([new Uint8Array(tar)], { type: "application/x-tar" });
  } catch {
    return undefined;
  }
}

/** The cached pristine cluster, if there is one. */
export function loadTemplate(): Promise<Blob | undefined> {
  if (!isEnabled()) return Promise.resolve(undefined);
  cached ??= readTemplate();
  return cached;
}

/**
 * Remember `db`'s cluster as the template. Call only on a cluster just created, before any migration or data.
 * Best effort: a cache that cannot be written is skipped.
 */
export async function saveTemplate(db: PGlite): Promise<void> {
  if (!isEnabled()) return;
  try {
    const blob = await db.dumpDataDir("none");
    const tar = new Blob([await blob.arrayBuffer()], { type: "application/x-tar" });
    cached = Promise.resolve(tar);
    const path = templatePath();
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const partial = `${path}.${process.pid}.partial`;
    await writeFile(partial, await gzipAsync(new Uint8Array(await tar.arrayBuffer())), { mode: 0o600 });
    await rename(partial, path);
  } catch {
    // A cache, nothing more.
  }
}

/** Drop a template that failed to load, so the next open creates a cluster the slow way. */
export async function forgetTemplate(): Promise<void> {
  cached = Promise.resolve(undefined);
  await rm(templatePath(), { force: true }).catch(() => undefined);
}
