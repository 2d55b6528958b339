/**
 * One suite per store: `defineSuite` is called for the embedded store (in memory) and, when PostgreSQL answers,
 * for PostgreSQL in a schema of its own that is dropped afterwards. The suites of the admin API, the module
 * routes and the web chat app run the same cases on both.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openStore, type Store } from "../../bot/index.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { POSTGRES_URL } from "./services.ts";

/** What a file defines per store: its name, how to open the store, and what to clean up after. */
export type DefineStoreSuite = (name: string, open: () => Promise<Store>, cleanup: () => Promise<void>) => void;

/** Run one statement on the shared PostgreSQL as its admin (schemas made and dropped by tests). */
export async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Define the suite on the embedded store, and on PostgreSQL when `isPostgresUp`. */
export function defineOnEachStore(defineSuite: DefineStoreSuite, isPostgresUp: boolean): void {
  defineSuite(
    "the embedded store",
    () => memoryStore(),
    async () => undefined,
  );
  if (!isPostgresUp) return;
  const schema = `t_${randomBytes(6).toString("hex")}`;
  defineSuite(
    "PostgreSQL",
    async () => {
      await pgAdmin(`CREATE SCHEMA ${schema}`);
      const url = new URL(POSTGRES_URL);
      url.searchParams.set("options", `-c search_path=${schema}`);
      return openStore({ dataDir: "unused", databaseUrl: url.toString() });
    },
    () => pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`),
  );
}
