/** Opening the store: clear errors that name what failed and never show a password; the data-folder lock. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isSwitchboardError, maskUrl, memoryStore, openStore } from "../../../bot/index.ts";

const root = await mkdtemp(join(tmpdir(), "switchboard-open-"));
afterAll(() => rm(root, { recursive: true, force: true }));

async function openError(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    const store = await promise;
    await (store as { close(): Promise<void> }).close();
  } catch (error) {
    expect(isSwitchboardError(error)).toBe(true);
    return error as Error & { code: string };
  }
  throw new Error("expected openStore to fail");
}

describe("maskUrl", () => {
  it("hides the password and secret-looking query parameters", () => {
    expect(maskUrl("postgres://bot:s3cr%40t@db.internal:5432/switchboard")).toBe(
      "postgres://bot:***@db.internal:5432/switchboard",
    );
    expect(maskUrl("redis://:hunter2@127.0.0.1:6379/0")).toBe("redis://:***@127.0.0.1:6379/0");
    expect(maskUrl("postgres://db/x?password=p1&sslmode=disable")).toBe("postgres://db/x?password=***&sslmode=disable");
    expect(maskUrl("postgres://db/x")).toBe("postgres://db/x");
  });

  it("reduces text that is not a URL to its scheme", () => {
    expect(maskUrl("postgres://bot:pa ss@[bad")).toBe("postgres://(unparseable URL)");
    expect(maskUrl("hunter2")).toBe("(unparseable URL)");
  });
});

describe("openStore errors", { timeout: 120_000 }, () => {
  it("names the unreachable PostgreSQL without its password", async () => {
    const error = await openError(
      openStore({ dataDir: root, databaseUrl: "postgres://bot:hunter2@127.0.0.1:1/switchboard" }),
    );
    expect(error.code).toBe("E_STORAGE");
    expect(error.message).toContain("PostgreSQL at postgres://bot:***@127.0.0.1:1/switchboard");
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain("hunter2");
    expect(error.stack ?? "").not.toContain("hunter2");
    expect(error.cause).toBeUndefined();
  });

  it("refuses a database URL that is not postgres://, without echoing it", async () => {
    const error = await openError(openStore({ dataDir: root, databaseUrl: "mysql://root:hunter2@127.0.0.1/x" }));
    expect(error.code).toBe("E_STORAGE");
    expect(error.message).toMatch(/must look like postgres:\/\//);
    expect(error.message).not.toContain("hunter2");
  });

  it("names the data folder it cannot use", async () => {
    const file = join(root, "not-a-folder");
    await writeFile(file, "x");
    const error = await openError(openStore({ dataDir: file }));
    expect(error.code).toBe("E_STORAGE");
    expect(error.message).toContain(`embedded database ${join(file, "db.sqlite")}`);
  });

  it("refuses a corrupt embedded database file with E_STORAGE and leaves it as it was", async () => {
    const dataDir = join(root, "corrupt");
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "db.sqlite"), "junk that is not a database, long enough to have a header\n");
    const error = await openError(openStore({ dataDir }));
    expect(error.code).toBe("E_STORAGE");
    expect(error.message).toContain(join(dataDir, "db.sqlite"));
    expect(await readFile(join(dataDir, "db.sqlite"), "utf8")).toMatch(/^junk/);
    // The lock is released after a failed open.
    await expect(readFile(join(dataDir, "db.lock"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("refuses a data folder holding the earlier embedded PostgreSQL (PGlite) database, and says what to do", async () => {
    const dataDir = join(root, "pglite-era");
    await mkdir(join(dataDir, "db"), { recursive: true });
    await writeFile(join(dataDir, "db", "PG_VERSION"), "17\n");
    const error = await openError(openStore({ dataDir }));
    expect(error.code).toBe("E_STORAGE");
    expect(error.message).toContain(`${join(dataDir, "db")} holds an embedded PostgreSQL (PGlite) database`);
    expect(error.message).toMatch(/Move that folder away|storage\.databaseUrl/);
    expect(await readFile(join(dataDir, "db", "PG_VERSION"), "utf8")).toBe("17\n");
    await expect(readFile(join(dataDir, "db.sqlite"), "utf8")).rejects.toThrow(/ENOENT/);
    await expect(readFile(join(dataDir, "db.lock"), "utf8")).rejects.toThrow(/ENOENT/);
  });
});

describe("embedded data folder lock", { timeout: 120_000 }, () => {
  it("refuses a second open of a folder in use, releases it at close, and takes over a lock left by a dead process or an earlier run with this pid", async () => {
    const dataDir = join(root, "locked");
    const store = await openStore({ dataDir });
    try {
      const error = await openError(openStore({ dataDir }));
      expect(error.code).toBe("E_STORAGE");
      expect(error.message).toMatch(/already held by this process/);
      expect(await readFile(join(dataDir, "db.lock"), "utf8")).toBe(`${process.pid}\n`);
      await store.kv.set("n", "s", { key: "k", value: "written before the crash" });
    } finally {
      await store.close();
    }
    await expect(readFile(join(dataDir, "db.lock"), "utf8")).rejects.toThrow(/ENOENT/);
    // A crashed process leaves its lock behind; so does a previous run with our pid (a restarted container).
    await writeFile(join(dataDir, "db.lock"), "2147483646\n");
    const again = await openStore({ dataDir });
    await again.close();
    await writeFile(join(dataDir, "db.lock"), `${process.pid}\n`);
    const reopened = await openStore({ dataDir });
    try {
      expect(await readFile(join(dataDir, "db.lock"), "utf8")).toBe(`${process.pid}\n`);
      expect(await reopened.kv.get("n", "s", "k")).toBe("written before the crash");
    } finally {
      await reopened.close();
    }
  });

  it("names another live process holding the folder", async () => {
    const dataDir = join(root, "other-process");
    await mkdir(dataDir, { recursive: true });
    // The parent of this test process is alive for the whole test.
    await writeFile(join(dataDir, "db.lock"), `${process.ppid}\n`);
    const error = await openError(openStore({ dataDir }));
    expect(error.message).toContain(`in use by process ${process.ppid}`);
    expect(await readFile(join(dataDir, "db.lock"), "utf8")).toBe(`${process.ppid}\n`);
  });
});

describe("memoryStore", { timeout: 120_000 }, () => {
  it("opens an empty store with the core schema and extra migrations, and forgets everything at close", async () => {
    const store = await memoryStore({ migrations: [{ id: "test-001-extra", sql: "CREATE TABLE extra (id int)" }] });
    try {
      expect(store.sql.driver).toBe("sqlite");
      const { rows } = await store.sql.query<{ id: string }>("SELECT id FROM schema_migrations ORDER BY id");
      expect(rows.map((row) => row.id)).toEqual([
        "core-001-chats",
        "core-002-audit-log",
        "core-003-kv",
        "core-030-audit-via",
        "core-030-console-credentials",
        "core-030-message-counts",
        "test-001-extra",
      ]);
      await store.kv.set("n", "s", { key: "k", value: 1 });
      expect(await store.kv.get("n", "s", "k")).toBe(1);
    } finally {
      await store.close();
      await store.close();
    }
  });
});
