/**
 * Versioned migrations. Each id is applied once, in list order, in its own transaction, and recorded in
 * `schema_migrations`. Processes sharing one PostgreSQL take a transaction-scoped advisory lock first, so two
 * starting at once apply each migration exactly once (the embedded store needs no lock: one process, and its
 * transactions run one at a time).
 */
import { SwitchboardError } from "../errors.ts";
import type { Migration, SqlClient } from "./types.ts";

/** Advisory lock key shared by every Switchboard process migrating one database ("SWBD" + "MIGR"). */
export const MIGRATION_LOCK_KEY = 0x5357_4244_4d49_4752n;

const ENSURE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at bigint NOT NULL)`;

function checkList(migrations: readonly Migration[]): void {
  const seen = new Set<string>();
  for (const [index, migration] of migrations.entries()) {
    if (typeof migration?.id !== "string" || migration.id.trim() === "" || typeof migration.sql !== "string") {
      throw new SwitchboardError("E_STORAGE", `migration #${index} needs a non-empty string id and sql`);
    }
    if (seen.has(migration.id)) throw new SwitchboardError("E_STORAGE", `migration id "${migration.id}" appears twice`);
    seen.add(migration.id);
  }
}

async function lock(tx: SqlClient): Promise<void> {
  if (tx.driver !== "postgres") return;
  await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
}

/** Apply the migrations of `migrations` not yet applied, in order. Returns the ids applied now. */
export async function runMigrations(sql: SqlClient, migrations: readonly Migration[]): Promise<string[]> {
  checkList(migrations);
  const applied = await sql.transaction(async (tx) => {
    await lock(tx);
    await tx.query(ENSURE_TABLE);
    const { rows } = await tx.query<{ id: string }>("SELECT id FROM schema_migrations");
    return new Set(rows.map((row) => row.id));
  });
  const done: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    const isNew = await sql.transaction(async (tx) => {
      await lock(tx);
      // Another process may have applied it while we waited for the lock.
      const { rows } = await tx.query("SELECT 1 FROM schema_migrations WHERE id = $1", [migration.id]);
      if (rows.length > 0) return false;
      try {
        await tx.query(tx.driver === "sqlite" && migration.sqlite !== undefined ? migration.sqlite : migration.sql);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new SwitchboardError("E_STORAGE", `migration ${migration.id} failed: ${reason}`, { cause: error });
      }
      await tx.query("INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)", [migration.id, Date.now()]);
      return true;
    });
    if (isNew) done.push(migration.id);
  }
  return done;
}
