/**
 * The cached pristine cluster: a damaged template must never stop a store from opening; it is replaced by a good
 * one. Runs with its own cache folder (XDG_CACHE_HOME) so it does not disturb the user's cache.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { memoryStore } from "../../../bot/index.ts";
import { templatePath } from "../../../bot/storage/pglite-template.ts";

const cacheHome = await mkdtemp(join(tmpdir(), "switchboard-cache-"));
const previous = process.env.XDG_CACHE_HOME;
process.env.XDG_CACHE_HOME = cacheHome;
afterAll(async () => {
  if (previous === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = previous;
  await rm(cacheHome, { recursive: true, force: true });
});

describe("PGlite cluster template", { timeout: 300_000 }, () => {
  it("opens despite a template that is not a cluster, and replaces it with a good one", async () => {
    const path = templatePath();
    expect(path.startsWith(cacheHome)).toBe(true);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, gzipSync(Buffer.from("this is not a tar archive of a cluster")), { mode: 0o600 });

    const store = await memoryStore();
    try {
      await store.kv.set("n", "s", { key: "k", value: "works" });
      expect(await store.kv.get("n", "s", "k")).toBe("works");
    } finally {
      await store.close();
    }
    const info = await stat(path);
    expect(info.mode & 0o077).toBe(0);
    const tar = gunzipSync(await readFile(path));
    expect(tar.length).toBeGreaterThan(1_000_000);
    expect(tar.includes(Buffer.from("PG_VERSION"))).toBe(true);
    // The template is pristine: no migration or data of the store that created it.
    expect(tar.includes(Buffer.from("schema_migrations"))).toBe(false);

    const second = await memoryStore();
    try {
      expect(await second.kv.get("n", "s", "k")).toBeUndefined();
    } finally {
      await second.close();
    }
  });
});
