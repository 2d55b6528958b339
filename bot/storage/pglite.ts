/**
 * The embedded `SqlClient`: PGlite (PostgreSQL compiled to WebAssembly) in one process, file-backed in a folder
 * or in memory. PGlite has a single connection; it runs every query and transaction one at a time behind its own
 * mutex, so a transaction never interleaves with another caller's statements.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { forgetTemplate, loadTemplate, saveTemplate } from "./pglite-template.ts";
import type { SqlClient } from "./types.ts";

/** A `SqlClient` that owns its database and can be closed. */
export interface ClosableSqlClient extends SqlClient {
  close(): Promise<void>;
}

/** Options for `openPglite`. */
export interface PgliteOptions {
  /** Folder holding the database files; omitted means in memory (gone at close). */
  dataDir?: string | undefined;
}

type Runner = Pick<PGlite, "query" | "exec"> | Transaction;

async function run<R>(db: Runner, text: string, params: unknown[] | undefined): Promise<{ rows: R[] }> {
  if (params !== undefined && params.length > 0) {
    const result = await db.query<R>(text, params);
    return { rows: result.rows };
  }
  // Without parameters use the simple protocol, as `pg` does: several statements may run in one call
  // (migrations); the rows are those of the last statement.
  const results = await db.exec(text);
  const last = results[results.length - 1];
  return { rows: (last?.rows ?? []) as R[] };
}

function txClient(tx: Transaction): SqlClient {
  const client: SqlClient = {
    driver: "pglite",
    query: (text, params) => run(tx, text, params),
    // Nested transactions join the outer one.
    transaction: (fn) => fn(client),
  };
  return client;
}

async function isEmptyFolder(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw error;
  }
}

async function start(dataDir: string | undefined, options: { loadDataDir?: Blob } = {}): Promise<PGlite> {
  const db = new PGlite(dataDir, options);
  try {
    await db.waitReady;
    return db;
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

// A new cluster starts from the cached pristine template when there is one (fast), else runs initdb and
// becomes the template. An existing folder opens as it is.
async function boot(dataDir: string | undefined): Promise<PGlite> {
  const isNew = dataDir === undefined || (await isEmptyFolder(dataDir));
  if (!isNew) return start(dataDir);
  const template = await loadTemplate();
  if (template !== undefined) {
    try {
      return await start(dataDir, { loadDataDir: template });
    } catch {
      await forgetTemplate();
      // The folder was empty before: clear what a half-loaded template left.
      if (dataDir !== undefined) {
        for (const entry of await readdir(dataDir)) await rm(join(dataDir, entry), { recursive: true, force: true });
      }
    }
  }
  const db = await start(dataDir);
  await saveTemplate(db);
  return db;
}

/** Open PGlite in `dataDir` (an existing folder; empty means a new cluster) or in memory, ready for queries. */
export async function openPglite(options: PgliteOptions = {}): Promise<ClosableSqlClient> {
  const db = await boot(options.dataDir);
  // The transaction running in this async context, if any. A query issued on the outer client from inside a
  // transaction callback joins that transaction instead of waiting for it to end (which would never happen:
  // PGlite's one connection is held by the transaction).
  const current = new AsyncLocalStorage<SqlClient>();
  return {
    driver: "pglite",
    query<R = Record<string, unknown>>(text: string, params?: unknown[]) {
      const tx = current.getStore();
      return tx === undefined ? run<R>(db, text, params) : tx.query<R>(text, params);
    },
    transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      const outer = current.getStore();
      if (outer !== undefined) return fn(outer);
      return db.transaction((tx) => {
        const client = txClient(tx);
        return current.run(client, () => fn(client));
      });
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
