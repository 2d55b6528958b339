/**
 * The inbound journal's tables and SQL. Events are written a batch to a row (a poll answer, the webhooks of one
 * commit), and marks (events finished, replies sent) a commit to a row, as JSON: a per-event row with its indexes
 * cost about 20 µs an event on SQLite, as much as the whole path of a command without the journal. On PostgreSQL,
 * where several processes share the journal, `journal_deliveries` adds the shared dedupe (one row per delivery,
 * written with one statement per commit); the embedded store, one process per data folder, dedupes in memory.
 *
 * Whether a batch is open (and who holds it, until when) lives in `journal_open`, a row per open batch, apart
 * from the batch's payloads: closing a batch deletes that small row. It was a `closed_at` column of the batch row,
 * and setting it rewrote the row with its payloads (about 35 KB for a poll of 100 Telegram updates) on SQLite,
 * which cost half of a commit's marks.
 */
import type { Migration, SqlClient } from "../storage/types.ts";

/** The journal's tables. */
export const JOURNAL_MIGRATIONS: readonly Migration[] = [
  {
    id: "core-010-inbound-journal",
    sql: `
      CREATE TABLE journal_batches (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        platform text NOT NULL,
        delivery_ids text NOT NULL,
        events text NOT NULL,
        received_at bigint NOT NULL,
        owner text NOT NULL,
        lease_until bigint NOT NULL,
        closed_at bigint
      );
      CREATE INDEX journal_batches_open ON journal_batches (owner, id) WHERE closed_at IS NULL;
      CREATE INDEX journal_batches_received ON journal_batches (received_at);
      CREATE TABLE journal_marks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        max_batch bigint NOT NULL,
        marks text NOT NULL
      );
      CREATE TABLE journal_deliveries (
        platform text NOT NULL,
        delivery_id text NOT NULL,
        received_at bigint NOT NULL,
        PRIMARY KEY (platform, delivery_id)
      );
      CREATE INDEX journal_deliveries_received ON journal_deliveries (received_at);`,
  },
  {
    id: "journal-011-open-batches",
    sql: `
      CREATE TABLE journal_open (
        batch_id bigint PRIMARY KEY,
        platform text NOT NULL,
        owner text NOT NULL,
        lease_until bigint NOT NULL
      );
      CREATE INDEX journal_open_owner ON journal_open (owner, batch_id);
      INSERT INTO journal_open (batch_id, platform, owner, lease_until)
        SELECT id, platform, owner, lease_until FROM journal_batches WHERE closed_at IS NULL;
      DROP INDEX journal_batches_open;
      ALTER TABLE journal_batches DROP COLUMN owner;
      ALTER TABLE journal_batches DROP COLUMN lease_until;
      ALTER TABLE journal_batches DROP COLUMN closed_at;`,
  },
];

/** Events of one platform written as one row; an event's id is `batchId * BATCH_SLOTS + its position`. */
export const BATCH_SLOTS = 1024;

/** One batch to write. */
export interface BatchRow {
  platform: string;
  deliveryIds: string[];
  /** The raw payloads, in order. */
  payloads: unknown[];
  receivedAt: number;
}

/** Marks written with one commit. */
export interface Marks {
  /** Events whose handling finished. */
  done: number[];
  /** [event id, reply index] marked sent right before its platform call. */
  sent: Array<[number, number]>;
  /** [event id, reply index] whose platform call failed: not sent after all. */
  unsent: Array<[number, number]>;
}

/** Everything one group commit writes. */
export interface Writes {
  batches: BatchRow[];
  marks: Marks;
  /** Batches whose every event finished. */
  closed: number[];
}

/** A batch read back for replay. */
export interface OpenBatch {
  id: number;
  platform: string;
  deliveryIds: string[];
  payloads: unknown[];
}

/**
 * Write one commit in one transaction. Returns, per batch in order, its id and the positions written (on
 * PostgreSQL, deliveries another process journaled first are left out), or undefined when none was new.
 */
export async function writeCommit(
  sql: SqlClient,
  writes: Writes,
  { owner, leaseUntil }: { owner: string; leaseUntil: number },
): Promise<Array<{ id: number; kept: boolean[] } | undefined>> {
  return sql.transaction(async (tx) => {
    const out: Array<{ id: number; kept: boolean[] } | undefined> = [];
    for (const batch of writes.batches) {
      let kept = batch.deliveryIds.map(() => true);
      if (tx.driver === "postgres") {
        const { rows } = await tx.query<{ delivery_id: string }>(
          `INSERT INTO journal_deliveries (platform, delivery_id, received_at)
           SELECT $1, d, $3 FROM unnest($2::text[]) AS t(d) ON CONFLICT (platform, delivery_id) DO NOTHING
           RETURNING delivery_id`,
          [batch.platform, batch.deliveryIds, batch.receivedAt],
        );
        const fresh = new Set(rows.map((row) => row.delivery_id));
        kept = batch.deliveryIds.map((id) => fresh.delete(id));
      }
      if (!kept.some(Boolean)) {
        out.push(undefined);
        continue;
      }
      const isAllKept = kept.every(Boolean);
      const { rows } = await tx.query<{ id: number }>(
        `INSERT INTO journal_batches (platform, delivery_ids, events, received_at) VALUES ($1, $2, $3, $4) RETURNING id`,
        [
          batch.platform,
          JSON.stringify(isAllKept ? batch.deliveryIds : batch.deliveryIds.map((id, i) => (kept[i] ? id : null))),
          JSON.stringify(isAllKept ? batch.payloads : batch.payloads.map((p, i) => (kept[i] ? p : null))),
          batch.receivedAt,
        ],
      );
      const id = Number(rows[0]!.id);
      await tx.query("INSERT INTO journal_open (batch_id, platform, owner, lease_until) VALUES ($1, $2, $3, $4)", [
        id,
        batch.platform,
        owner,
        leaseUntil,
      ]);
      out.push({ id, kept });
    }
    const { done, sent, unsent } = writes.marks;
    if (done.length + sent.length + unsent.length > 0) {
      let maxBatch = 0;
      for (const id of done) maxBatch = Math.max(maxBatch, Math.floor(id / BATCH_SLOTS));
      for (const [id] of sent) maxBatch = Math.max(maxBatch, Math.floor(id / BATCH_SLOTS));
      for (const [id] of unsent) maxBatch = Math.max(maxBatch, Math.floor(id / BATCH_SLOTS));
      await tx.query("INSERT INTO journal_marks (max_batch, marks) VALUES ($1, $2)", [
        maxBatch,
        JSON.stringify(writes.marks),
      ]);
    }
    if (writes.closed.length > 0) {
      if (tx.driver === "postgres") {
        await tx.query("DELETE FROM journal_open WHERE batch_id = ANY($1::bigint[])", [writes.closed]);
      } else {
        await tx.query(
          `DELETE FROM journal_open WHERE batch_id IN (${inList(1, writes.closed.length)})`,
          writes.closed,
        );
      }
    }
    return out;
  });
}

/** `$from, $from+1, …` for an IN list of `count` values (SQLite binds no arrays). */
function inList(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(", ");
}

/**
 * Take over open batches of `platforms`: on SQLite all of them (one process per data folder, so whatever is
 * open was left by a dead process); on PostgreSQL those whose owner's lease ran out.
 */
export async function claimOpen(
  sql: SqlClient,
  { owner, nowMs, leaseUntil, platforms }: { owner: string; nowMs: number; leaseUntil: number; platforms: string[] },
): Promise<number> {
  if (platforms.length === 0) return 0;
  const expired = sql.driver === "sqlite" ? "" : "AND lease_until < $3";
  const { rows } = await sql.query<{ batch_id: number }>(
    `UPDATE journal_open SET owner = $1, lease_until = $2
     WHERE owner <> $1 ${expired} AND platform IN (${inList(4, platforms.length)}) RETURNING batch_id`,
    [owner, leaseUntil, nowMs, ...platforms],
  );
  return rows.length;
}

/** Extend the leases of this owner's open batches. */
export async function renewLeases(sql: SqlClient, owner: string, leaseUntil: number): Promise<void> {
  await sql.query("UPDATE journal_open SET lease_until = $2 WHERE owner = $1", [owner, leaseUntil]);
}

/** This owner's open batches of `platforms`, oldest first. */
export async function openBatches(
  sql: SqlClient,
  { owner, platforms, afterId, limit }: { owner: string; platforms: string[]; afterId: number; limit: number },
): Promise<OpenBatch[]> {
  if (platforms.length === 0) return [];
  const { rows } = await sql.query<{ id: number; platform: string; delivery_ids: string; events: string }>(
    `SELECT b.id, b.platform, b.delivery_ids, b.events FROM journal_open o JOIN journal_batches b ON b.id = o.batch_id
     WHERE o.owner = $1 AND o.batch_id > $2 AND o.platform IN (${inList(4, platforms.length)})
     ORDER BY o.batch_id LIMIT $3`,
    [owner, afterId, limit, ...platforms],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    platform: row.platform,
    deliveryIds: JSON.parse(row.delivery_ids) as string[],
    payloads: JSON.parse(row.events) as unknown[],
  }));
}

/** The marks that may concern batches from `fromBatch` on, in the order they were written. */
export async function marksSince(sql: SqlClient, fromBatch: number): Promise<Marks[]> {
  const { rows } = await sql.query<{ marks: string }>(
    "SELECT marks FROM journal_marks WHERE max_batch >= $1 ORDER BY id",
    [fromBatch],
  );
  return rows.map((row) => JSON.parse(row.marks) as Marks);
}

/** Delivery ids journaled since `sinceMs`, newest first, at most `limit` batches (the embedded dedupe's memory). */
export async function recentDeliveries(
  sql: SqlClient,
  { sinceMs, limit }: { sinceMs: number; limit: number },
): Promise<Array<{ platform: string; deliveryIds: Array<string | null>; receivedAt: number }>> {
  const { rows } = await sql.query<{ platform: string; delivery_ids: string; received_at: number }>(
    "SELECT platform, delivery_ids, received_at FROM journal_batches WHERE received_at >= $1 ORDER BY id DESC LIMIT $2",
    [sinceMs, limit],
  );
  return rows.map((row) => ({
    platform: row.platform,
    deliveryIds: JSON.parse(row.delivery_ids) as Array<string | null>,
    receivedAt: Number(row.received_at),
  }));
}

/**
 * Forget what is finished: closed batches received before `cutoffMs` or beyond the newest `maxBatches` closed
 * ones, marks that concern closed batches only, deliveries older than `cutoffMs`. Open batches are never
 * dropped: each holds commands a platform was told we have.
 */
export async function prune(
  sql: SqlClient,
  { cutoffMs, maxBatches }: { cutoffMs: number; maxBatches: number },
): Promise<void> {
  await sql.transaction(async (tx) => {
    const isClosed = "NOT EXISTS (SELECT 1 FROM journal_open o WHERE o.batch_id = journal_batches.id)";
    const { rows: nth } = await tx.query<{ id: number }>(
      `SELECT id FROM journal_batches WHERE ${isClosed} ORDER BY id DESC LIMIT 1 OFFSET $1`,
      [maxBatches],
    );
    await tx.query(`DELETE FROM journal_batches WHERE ${isClosed} AND (received_at < $1 OR id <= $2)`, [
      cutoffMs,
      nth[0]?.id ?? 0,
    ]);
    const { rows: open } = await tx.query<{ first: number | null }>("SELECT min(batch_id) AS first FROM journal_open");
    const { rows: last } = await tx.query<{ last: number | null }>("SELECT max(id) AS last FROM journal_batches");
    const firstOpen = open[0]?.first ?? (last[0]?.last ?? 0) + 1;
    await tx.query("DELETE FROM journal_marks WHERE max_batch < $1", [firstOpen]);
    await tx.query("DELETE FROM journal_deliveries WHERE received_at < $1", [cutoffMs]);
  });
}
