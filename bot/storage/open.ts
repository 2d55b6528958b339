/**
 * Open the durable store: embedded SQLite in `<dataDir>/db.sqlite` by default, PostgreSQL when a database URL is
 * given, or SQLite in memory for tests. Core migrations (and any extra ones) are applied before the store is
 * returned.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { isSwitchboardError, SwitchboardError } from "../errors.ts";
import { acquireDataLock, type DataLock } from "./data-lock.ts";
import { runMigrations } from "./migrate.ts";
import { CORE_MIGRATIONS } from "./migrations.ts";
import { openSqlite, type ClosableSqlClient } from "./sqlite.ts";
import { createSqlStore } from "./sql-store.ts";
import type { Migration, Store } from "./types.ts";

/** Options for `openStore`. */
export interface OpenStoreOptions {
  /** The data folder; the embedded database is `<dataDir>/db.sqlite`. Ignored with `databaseUrl` or `inMemory`. */
  dataDir: string;
  /** PostgreSQL URL; when set, PostgreSQL is used instead of the embedded database. */
  databaseUrl?: string | undefined;
  /** Embedded database in memory (tests): nothing is written to disk and everything is gone at `close`. */
  inMemory?: boolean | undefined;
  log?: Logger | undefined;
  /** Applied after the core migrations, in order. */
  migrations?: readonly Migration[] | undefined;
}

/**
 * A URL with its password (and any `password` query parameter) replaced by `***`, safe for logs and errors.
 * Text that does not parse as a URL is reduced to its scheme.
 */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    for (const name of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(name)) parsed.searchParams.set(name, "***");
    }
    return parsed.toString();
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    return scheme === undefined ? "(unparseable URL)" : `${scheme}://(unparseable URL)`;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.trim() === "" ? error.name : error.message;
    return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(error);
}

function scrub(text: string, secret: string | undefined): string {
  return secret === undefined || secret === "" ? text : text.split(secret).join("***");
}

function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === "" ? undefined : password;
  } catch {
    return undefined;
  }
}

/** Open the store and apply migrations. Failures throw `E_STORAGE` naming what could not be opened. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const started = performance.now();
  let where: string;
  let secret: string | undefined;
  let client: ClosableSqlClient | undefined;
  let lock: DataLock | undefined;
  try {
    if (options.databaseUrl !== undefined && options.databaseUrl !== "") {
      where = `PostgreSQL at ${maskUrl(options.databaseUrl)}`;
      secret = passwordOf(options.databaseUrl);
      if (!/^postgres(?:ql)?:\/\/[^\s]+$/i.test(options.databaseUrl)) {
        throw new SwitchboardError(
          "E_STORAGE",
          `the database URL must look like postgres://user:password@host:5432/database, got ${maskUrl(options.databaseUrl)}`,
        );
      }
      // `pg` loads only when PostgreSQL is configured.
      const { openPostgres } = await import("./postgres.ts");
      client = openPostgres({ url: options.databaseUrl, log: options.log });
      await client.query("SELECT 1");
    } else if (options.inMemory === true) {
      where = "the in-memory embedded database";
      client = await openSqlite();
    } else {
      const dataDir = resolve(options.dataDir);
      const file = join(dataDir, "db.sqlite");
      where = `the embedded database ${file}`;
      await mkdir(dataDir, { recursive: true });
      lock = await acquireDataLock(join(dataDir, "db.lock"));
      if (!existsSync(file) && existsSync(join(dataDir, "db", "PG_VERSION"))) {
        throw new SwitchboardError(
          "E_STORAGE",
          `${join(dataDir, "db")} holds an embedded PostgreSQL (PGlite) database from Switchboard 0.1; the embedded store is now SQLite (${file}). Move that folder away to start with an empty store, or keep it and set storage.databaseUrl to a PostgreSQL server`,
        );
      }
      client = await openSqlite({ file });
    }
    const applied = await runMigrations(client, [...CORE_MIGRATIONS, ...(options.migrations ?? [])]);
    options.log?.info(
      { driver: client.driver, applied, openMs: Math.round(performance.now() - started) },
      `store open: ${where}`,
    );
  } catch (error) {
    await client?.close().catch(() => undefined);
    await lock?.release().catch(() => undefined);
    const target = (where ??= "the store");
    if (isSwitchboardError(error) && error.code === "E_STORAGE" && client === undefined)
      throw new SwitchboardError("E_STORAGE", scrub(error.message, secret));
    const message = scrub(`cannot open ${target}: ${reasonOf(error)}`, secret);
    throw new SwitchboardError("E_STORAGE", message, { details: { where: target } });
  }
  const sql = client;
  const heldLock = lock;
  return createSqlStore(sql, async () => {
    try {
      await sql.close();
    } finally {
      await heldLock?.release();
    }
  });
}

/** An empty store in memory with the core schema (and `migrations`): for tests. */
export function memoryStore(options: { log?: Logger; migrations?: readonly Migration[] } = {}): Promise<Store> {
  return openStore({ dataDir: "", inMemory: true, log: options.log, migrations: options.migrations });
}
