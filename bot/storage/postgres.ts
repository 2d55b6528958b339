/**
 * The PostgreSQL `SqlClient` over a `pg` Pool. Type parsing is configured on this pool only (never on the global
 * `pg.types`): `bigint` comes back as a number when it fits (epoch ms, ids, counts), else as a BigInt; json and
 * jsonb come back parsed.
 */
import pg from "pg";
import type { Logger } from "pino";
import type { ClosableSqlClient } from "./sqlite.ts";
import type { SqlClient } from "./types.ts";

const INT8_OID = 20;

function parseInt8(value: string): number | bigint {
  const big = BigInt(value);
  return big < BigInt(Number.MIN_SAFE_INTEGER) || big > BigInt(Number.MAX_SAFE_INTEGER) ? big : Number(big);
}

const poolTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return parseInt8;
    return pg.types.getTypeParser(oid, format);
  },
};

/** Options for `openPostgres`. */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database?options=...` */
  url: string;
  /** Largest number of connections this process holds. */
  maxConnections?: number;
  /** How long to wait for a connection before failing, in ms. */
  connectTimeoutMs?: number;
  log?: Logger | undefined;
}

// Several statements without parameters give one result each: keep the last one's rows, as the embedded driver does.
function rowsOf<R>(result: pg.QueryResult | pg.QueryResult[]): { rows: R[] } {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  return { rows: (last?.rows ?? []) as R[] };
}

function clientOf(conn: pg.PoolClient): SqlClient {
  const client: SqlClient = {
    driver: "postgres",
    async query<R = Record<string, unknown>>(text: string, params?: unknown[]) {
      return rowsOf<R>(await conn.query(text, params));
    },
    // Nested transactions join the outer one.
    transaction: (fn) => fn(client),
  };
  return client;
}

/** Create a pool for `url`. Connections are made on first use; `openStore` checks reachability right away. */
export function openPostgres(options: PostgresOptions): ClosableSqlClient {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: "switchboard",
    types: poolTypes,
  });
  // An idle client losing its connection emits here; without a listener the process would crash.
  pool.on("error", (error) => {
    options.log?.warn(
      { err: { message: error.message, code: (error as { code?: unknown }).code } },
      "idle PostgreSQL connection failed",
    );
  });
  let isClosed = false;
  return {
    driver: "postgres",
    async query<R = Record<string, unknown>>(text: string, params?: unknown[]) {
      return rowsOf<R>(await pool.query(text, params));
    },
    async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      const conn = await pool.connect();
      let broken: Error | undefined;
      try {
        await conn.query("BEGIN");
        try {
          const result = await fn(clientOf(conn));
          await conn.query("COMMIT");
          return result;
        } catch (error) {
          try {
            await conn.query("ROLLBACK");
          } catch (rollbackError) {
            // The connection is unusable: drop it rather than return it to the pool.
            broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
          }
          throw error;
        }
      } finally {
        conn.release(broken);
      }
    },
    async close() {
      if (isClosed) return;
      isClosed = true;
      await pool.end();
    },
  };
}
