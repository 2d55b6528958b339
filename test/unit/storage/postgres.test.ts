/** The PostgreSQL driver: local type parsing (never the global pg.types), and transactions on one connection. */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres } from "../../../bot/storage/postgres.ts";
import type { ClosableSqlClient } from "../../../bot/storage/sqlite.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";

const isUp = await serviceAvailable("postgres");

describe.skipIf(!isUp)("PostgreSQL SqlClient", { timeout: 60_000 }, () => {
  let sql: ClosableSqlClient;
  beforeAll(() => {
    sql = openPostgres({ url: POSTGRES_URL, maxConnections: 4 });
  });
  afterAll(() => sql.close());

  it("returns bigint as a number when it fits and as a BigInt when it does not, and jsonb parsed", async () => {
    const { rows } = await sql.query(
      "SELECT $1::bigint AS small, $2::bigint AS big, $3::jsonb AS doc, count(*) AS n FROM (VALUES (1), (2)) v(x)",
      [1_795_000_000_123, "9007199254740993", JSON.stringify([1, { a: null }])],
    );
    expect(rows).toEqual([{ small: 1_795_000_000_123, big: 9_007_199_254_740_993n, doc: [1, { a: null }], n: 2 }]);
  });

  it("leaves the global pg type parsers alone", async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT 5::bigint AS n");
      expect(rows[0].n).toBe("5");
    } finally {
      await client.end();
    }
  });

  it("runs a transaction on one connection and rolls it back on a throw", async () => {
    await expect(
      sql.transaction(async (tx) => {
        const first = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        await tx.query("CREATE TABLE IF NOT EXISTS pg_driver_rollback_probe (id int)");
        const nested = await tx.transaction((inner) => inner.query<{ pid: number }>("SELECT pg_backend_pid() AS pid"));
        expect(nested.rows[0]!.pid).toBe(first.rows[0]!.pid);
        throw new Error("undo");
      }),
    ).rejects.toThrow("undo");
    const { rows } = await sql.query("SELECT to_regclass('pg_driver_rollback_probe') AS t");
    expect(rows).toEqual([{ t: null }]);
  });

  it("returns the last statement's rows when several run without parameters", async () => {
    const { rows } = await sql.query("SELECT 1 AS a; SELECT 2 AS b");
    expect(rows).toEqual([{ b: 2 }]);
  });
});
