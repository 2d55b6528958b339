/**
 * The embedded `SqlClient`: SQLite through `node:sqlite` (built into Node, no native addon), file-backed in the
 * data folder or in memory. Chosen over PGlite by measurement (docs/architecture.md): a few MB resident instead
 * of 200+, and an open in milliseconds.
 *
 * The repositories write one SQL (PostgreSQL's); `toSqlite` rewrites the few spellings SQLite lacks, outside
 * string literals and comments: `$n` parameters, `::type` casts, `COLLATE "C"`, `FOR UPDATE [SKIP LOCKED]`,
 * `GREATEST`/`LEAST`, and in DDL `jsonb` → TEXT and serial/identity keys → `INTEGER PRIMARY KEY`. What cannot be
 * rewritten (sequences, data-modifying CTEs, arrays, ordered-set aggregates) is written portably in the module
 * or given a SQLite form (`Migration.sqlite`, `sql.driver`).
 *
 * `node:sqlite` is synchronous; each call runs at once. A transaction holds the one connection across awaits:
 * other callers queue behind it, and a query issued from inside the callback (found with `AsyncLocalStorage`)
 * joins it, as on PGlite before.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { SwitchboardError } from "../errors.ts";
import type { SqlClient } from "./types.ts";
import { Checkpointer, type CheckpointResult } from "./checkpointer.ts";

/** A `SqlClient` that owns its database and can be closed. */
export interface ClosableSqlClient extends SqlClient {
  close(): Promise<void>;
  /**
   * A file-backed database's WAL checkpoint, run now in the checkpoint worker (`checkpointer.ts`); undefined in
   * memory or once the worker failed (SQLite checkpoints inside commits again then).
   */
  checkpoint?(): Promise<CheckpointResult | undefined>;
}

/** Options for `openSqlite`. */
export interface SqliteOptions {
  /** The database file; omitted means in memory (gone at close). */
  file?: string | undefined;
  /** For a file: checkpoint every this many ms at most (default 500). */
  checkpointIntervalMs?: number;
  /** For a file: WAL frames past which the main connection checkpoints itself (default 16,384, 64 MB). */
  checkpointCapFrames?: number;
}

/** The WAL file is cut back to this size when it is written again from its start (bytes). */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** Prepared statements kept per connection (by SQL text); the oldest is dropped past this count. */
const STATEMENT_CACHE_MAX = 256;

type Segment = { code: boolean; text: string };

/** Split SQL into code and protected parts (string literals and comments). */
function segments(sql: string): Segment[] {
  const out: Segment[] = [];
  let start = 0;
  let i = 0;
  const push = (code: boolean, end: number) => {
    if (end > start) out.push({ code, text: sql.slice(start, end) });
    start = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'") {
      push(true, i);
      i++;
      while (i < sql.length && !(sql[i] === "'" && sql[i + 1] !== "'")) i += sql[i] === "'" ? 2 : 1;
      push(false, Math.min(i + 1, sql.length));
      i = start;
    } else if (c === "-" && sql[i + 1] === "-") {
      push(true, i);
      const end = sql.indexOf("\n", i);
      push(false, end === -1 ? sql.length : end);
      i = start;
    } else if (c === "/" && sql[i + 1] === "*") {
      push(true, i);
      const end = sql.indexOf("*/", i + 2);
      push(false, end === -1 ? sql.length : end + 2);
      i = start;
    } else i++;
  }
  push(true, sql.length);
  return out;
}

const REWRITES: Array<[RegExp, string]> = [
  [/::\s*[a-z_][a-z0-9_]*(\s*\[\])?/gi, ""],
  [/\bCOLLATE\s+"C"/gi, "COLLATE BINARY"],
  [/\bFOR\s+UPDATE(\s+SKIP\s+LOCKED|\s+NOWAIT)?/gi, ""],
  [/\bGREATEST\s*\(/gi, "MAX("],
  [/\bLEAST\s*\(/gi, "MIN("],
];

// Only in CREATE/ALTER statements: column types.
const DDL_REWRITES: Array<[RegExp, string]> = [
  [/\b(?:BIGSERIAL|SERIAL)\b/gi, "INTEGER"],
  [/\bBIGINT\s+GENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\b/gi, "INTEGER"],
  [/\bJSONB?\b/gi, "TEXT"],
];

/** PostgreSQL-spelled SQL and `$n` parameters → SQLite SQL with anonymous `?` and the arguments in order. */
export function toSqlite(sql: string, params: readonly unknown[] = []): { text: string; args: unknown[] } {
  return bind(shapeOf(sql), params);
}

/** A statement rewritten for SQLite: its text, and which parameter (0-based) each `?` takes, in order. */
interface Shape {
  text: string;
  order: number[];
}

function shapeOf(sql: string): Shape {
  const order: number[] = [];
  let text = "";
  const rewrites = /^\s*(?:CREATE|ALTER)\b/i.test(sql) ? [...REWRITES, ...DDL_REWRITES] : REWRITES;
  for (const part of segments(sql)) {
    if (!part.code) {
      text += part.text;
      continue;
    }
    let code = part.text;
    for (const [pattern, replacement] of rewrites) code = code.replace(pattern, replacement);
    // Anonymous parameters only: numbered ones (`?1`) do not bind on Node 22.12's node:sqlite.
    code = code.replace(/\$(\d+)/g, (_, n: string) => {
      order.push(Number(n) - 1);
      return "?";
    });
    text += code;
  }
  return { text, order };
}

function bind(shape: Shape, params: readonly unknown[]): { text: string; args: unknown[] } {
  const args: unknown[] = [];
  for (const index of shape.order) {
    if (index < 0 || index >= params.length) {
      throw new SwitchboardError(
        "E_STORAGE",
        `SQL refers to $${index + 1} but ${params.length} parameter(s) were given`,
      );
    }
    args.push(bindable(params[index]));
  }
  return { text: shape.text, args };
}

/** Statements of a script, split at `;` outside literals and comments (empty ones dropped). */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const part of segments(sql)) {
    if (!part.code) {
      current += part.text;
      continue;
    }
    const pieces = part.text.split(";");
    for (let i = 0; i < pieces.length; i++) {
      current += pieces[i];
      if (i < pieces.length - 1) {
        out.push(current);
        current = "";
      }
    }
  }
  out.push(current);
  return out.filter((s) => s.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, "").trim() !== "");
}

function bindable(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case "boolean":
      return value ? 1 : 0;
    case "number":
    case "bigint":
    case "string":
      return value;
    default:
      if (value instanceof Uint8Array) return value;
      if (value instanceof Date) return value.getTime();
      if (Array.isArray(value)) {
        throw new SwitchboardError(
          "E_STORAGE",
          "an array cannot be a SQL parameter on the embedded store: expand it into an IN list",
        );
      }
      return JSON.stringify(value);
  }
}

// Integers come back as BigInt (so none is silently rounded) and become numbers when they fit, as on `pg`.
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in row) {
    const value = row[key];
    out[key] =
      typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(value)
        : value;
  }
  return out;
}

/** True for a statement that only reads (no checkpoint asked for after it). */
function isRead(sql: string): boolean {
  return /^\s*SELECT\b/i.test(sql);
}

function loadSqlite(): typeof import("node:sqlite") {
  const mod = process.getBuiltinModule?.("node:sqlite") as typeof import("node:sqlite") | undefined;
  if (mod === undefined) {
    throw new SwitchboardError(
      "E_STORAGE",
      `the embedded store needs node:sqlite: Node.js >= 22.13, or 22.12 started with --experimental-sqlite (this is ${process.versions.node}; bin/switchboard.js adds the flag itself)`,
    );
  }
  return mod;
}

/** Open SQLite in `file` (created when missing) or in memory, ready for queries. */
export async function openSqlite(options: SqliteOptions = {}): Promise<ClosableSqlClient> {
  const { DatabaseSync } = loadSqlite();
  const db: DatabaseSync = new DatabaseSync(options.file ?? ":memory:");
  try {
    // WAL: readers never wait for the writer; NORMAL: a crash of the process loses nothing committed (only a
    // power cut can lose the last transactions). Foreign keys on, as PostgreSQL always has them.
    db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000",
    );
    // A file's checkpoints run in a worker thread, not inside a commit (checkpointer.ts).
    if (options.file !== undefined) {
      db.exec(`PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  const statements = new Map<string, StatementSync>();
  // Rewritten statements by their PostgreSQL text: the rewrite (regular expressions over the text) runs once per
  // statement instead of once per call. Bounded like the prepared statements.
  const shapes = new Map<string, Shape>();
  const shaped = (sql: string): Shape => {
    let shape = shapes.get(sql);
    if (shape === undefined) {
      shape = shapeOf(sql);
      if (shapes.size >= STATEMENT_CACHE_MAX) shapes.delete(shapes.keys().next().value!);
      shapes.set(sql, shape);
    }
    return shape;
  };
  const prepared = (text: string): StatementSync => {
    let statement = statements.get(text);
    if (statement === undefined) {
      statement = db.prepare(text);
      statement.setReadBigInts(true);
      if (statements.size >= STATEMENT_CACHE_MAX) statements.delete(statements.keys().next().value!);
      statements.set(text, statement);
    }
    return statement;
  };
  const run = <R>(sql: string, params: unknown[] | undefined): { rows: R[] } => {
    if (checkpointer !== undefined && !inTransaction && !isRead(sql)) checkpointer.noteWrite();
    if (params === undefined || params.length === 0) {
      // Without parameters several statements may run in one call (migrations); the rows are the last one's.
      const parts = splitStatements(sql);
      let rows: R[] = [];
      for (const part of parts) rows = prepared(toSqlite(part).text).all().map(plainRow) as R[];
      return { rows };
    }
    const { text, args } = bind(shaped(sql), params);
    return {
      rows: prepared(text)
        .all(...(args as never[]))
        .map(plainRow) as R[],
    };
  };

  let inTransaction = false;
  let isClosed = false;
  const checkpointer =
    options.file === undefined
      ? undefined
      : new Checkpointer({
          file: options.file,
          ...(options.checkpointIntervalMs === undefined ? {} : { intervalMs: options.checkpointIntervalMs }),
          ...(options.checkpointCapFrames === undefined ? {} : { capFrames: options.checkpointCapFrames }),
          inline: () =>
            exclusive(async () => {
              const row = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get() as unknown as CheckpointResult;
              return { busy: Number(row.busy), log: Number(row.log), checkpointed: Number(row.checkpointed) };
            }),
          fallBack: () => {
            if (!isClosed) db.exec("PRAGMA wal_autocheckpoint = 1000");
          },
        });

  // The transaction running in this async context, if any; and the queue of callers waiting for the connection.
  const current = new AsyncLocalStorage<SqlClient>();
  let tail: Promise<void> = Promise.resolve();
  let waiting = 0;
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    waiting++;
    const previous = tail;
    let release!: () => void;
    tail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      waiting--;
      release();
    }
  };

  const txClient: SqlClient = {
    driver: "sqlite",
    query: async (text, params) => run(text, params),
    transaction: (fn) => fn(txClient),
  };
  return {
    driver: "sqlite",
    async query<R = Record<string, unknown>>(text: string, params?: unknown[]) {
      if (current.getStore() !== undefined || waiting === 0) return run<R>(text, params);
      return exclusive(async () => run<R>(text, params));
    },
    transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      const outer = current.getStore();
      if (outer !== undefined) return fn(outer);
      return exclusive(async () => {
        db.exec("BEGIN IMMEDIATE");
        inTransaction = true;
        try {
          const result = await current.run(txClient, () => fn(txClient));
          db.exec("COMMIT");
          inTransaction = false;
          checkpointer?.noteWrite();
          return result;
        } catch (error) {
          inTransaction = false;
          try {
            db.exec("ROLLBACK");
          } catch {
            // COMMIT itself failed and SQLite already rolled back.
          }
          throw error;
        }
      });
    },
    ...(checkpointer === undefined ? {} : { checkpoint: () => checkpointer.checkpoint() }),
    async close() {
      if (isClosed) return;
      // The worker's connection closes first, so the main one, closing last, checkpoints and removes the WAL.
      await checkpointer?.close();
      await exclusive(async () => undefined);
      isClosed = true;
      statements.clear();
      shapes.clear();
      db.close();
    },
  };
}
