/** The embedded driver: one connection, so transactions are serialized and never interleave with other callers. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type ClosableSqlClient } from "../../../bot/storage/pglite.ts";

describe("PGlite SqlClient", { timeout: 120_000 }, () => {
  let sql: ClosableSqlClient;
  beforeAll(async () => {
    sql = await openPglite();
    await sql.query("CREATE TABLE t (id int PRIMARY KEY, note text)");
  }, 120_000);
  afterAll(() => sql.close());

  it("runs several statements in one call without parameters, returning the last one's rows", async () => {
    const { rows } = await sql.query(
      "INSERT INTO t VALUES (100, 'a'); INSERT INTO t VALUES (101, 'b'); SELECT count(*)::int AS n FROM t WHERE id >= 100",
    );
    expect(rows).toEqual([{ n: 2 }]);
  });

  it("returns bigint as numbers and jsonb parsed", async () => {
    const { rows } = await sql.query("SELECT $1::bigint AS at, $2::jsonb AS doc", [
      1_795_000_000_123,
      JSON.stringify({ a: [1, null] }),
    ]);
    expect(rows).toEqual([{ at: 1_795_000_000_123, doc: { a: [1, null] } }]);
  });

  it("makes a caller outside a transaction wait until it commits", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let insideStarted!: () => void;
    const started = new Promise<void>((resolve) => (insideStarted = resolve));
    const tx = sql.transaction(async (client) => {
      await client.query("INSERT INTO t VALUES ($1, $2)", [1, "in tx"]);
      insideStarted();
      await gate;
      await client.query("UPDATE t SET note = $2 WHERE id = $1", [1, "committed"]);
    });
    await started;
    let outsideDone = false;
    // A different async context: not part of the transaction.
    const outside = new Promise<{ rows: { note: string }[] }>((resolve, reject) => {
      setImmediate(() => {
        sql.query<{ note: string }>("SELECT note FROM t WHERE id = 1").then((result) => {
          outsideDone = true;
          resolve(result);
        }, reject);
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(outsideDone).toBe(false);
    release();
    await tx;
    expect((await outside).rows).toEqual([{ note: "committed" }]);
  });

  it("lets code inside a transaction use the outer client without deadlocking, inside the same transaction", async () => {
    await expect(
      sql.transaction(async () => {
        await sql.query("INSERT INTO t VALUES ($1, $2)", [2, "joined"]);
        const nested = await sql.transaction((inner) =>
          inner.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE id = 2"),
        );
        expect(nested.rows).toEqual([{ n: 1 }]);
        throw new Error("roll it all back");
      }),
    ).rejects.toThrow("roll it all back");
    expect((await sql.query("SELECT * FROM t WHERE id = 2")).rows).toEqual([]);
  });
});
