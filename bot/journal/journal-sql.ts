/**
 * The inbound journal's SQL, per driver. SQLite runs one prepared statement per row inside one transaction (a
 * statement text per row count would churn the driver's statement cache); PostgreSQL sends each kind of write as
 * one statement over arrays (`unnest`), so a batch of any size costs one round trip per kind.
 */
import type { Migration, SqlClient } from "../storage/types.ts";

/** The journal's tables: one row per accepted platform event, one per reply marked sent. */
export const JOURNAL_MIGRATIONS: readonly Migration[] = [
  {
    id: "core-010-inbound-journal",
    sql: `
      CREATE TABLE journal_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        platform text NOT NULL,
        delivery_id text NOT NULL,
        payload text NOT NULL,
        received_at bigint NOT NULL,
        owner text NOT NULL,
        lease_until bigint NOT NULL,
        done_at bigint,
        UNIQUE (platform, delivery_id)
      );
      CREATE INDEX journal_events_open ON journal_events (owner, id) WHERE done_at IS NULL;
      CREATE INDEX journal_events_done ON journal_events (done_at) WHERE done_at IS NOT NULL;
      CREATE TABLE journal_replies (
        event_id bigint NOT NULL,
        idx integer NOT NULL,
        sent_at bigint NOT NULL,
        PRIMARY KEY (event_id, idx)
      );`,
  },
];

/** One event to write. */
export interface EventRow {
  platform: string;
  deliveryId: string;
  payload: string;
  receivedAt: number;
}

/** An open event read back for replay. */
export interface OpenRow {
  id: number;
  platform: string;
  delivery_id: string;
  payload: string;
}

/** Everything one group commit writes. */
export interface Batch {
  events: EventRow[];
  sent: Array<{ eventId: number; index: number }>;
  unsent: Array<{ eventId: number; index: number }>;
  done: number[];
}

/**
 * Write one batch in one transaction. Returns, per event in order, its new id, or undefined when the platform
 * had delivered it before (its `(platform, delivery_id)` is already journaled).
 */
export async function writeBatch(
  sql: SqlClient,
  batch: Batch,
  { owner, nowMs, leaseUntil }: { owner: string; nowMs: number; leaseUntil: number },
): Promise<Array<number | undefined>> {
  return sql.transaction(async (tx) => {
    const ids: Array<number | undefined> = [];
    if (tx.driver === "sqlite") {
      for (const e of batch.events) {
        const { rows } = await tx.query<{ id: number }>(
          `INSERT INTO journal_events (platform, delivery_id, payload, received_at, owner, lease_until)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING id`,
          [e.platform, e.deliveryId, e.payload, e.receivedAt, owner, leaseUntil],
        );
        ids.push(rows[0]?.id);
      }
      for (const s of batch.sent) {
        await tx.query(
          "INSERT INTO journal_replies (event_id, idx, sent_at) VALUES ($1, $2, $3) ON CONFLICT (event_id, idx) DO NOTHING",
          [s.eventId, s.index, nowMs],
        );
      }
      for (const u of batch.unsent) {
        await tx.query("DELETE FROM journal_replies WHERE event_id = $1 AND idx = $2", [u.eventId, u.index]);
      }
      for (const id of batch.done) {
        await tx.query("UPDATE journal_events SET done_at = $1 WHERE id = $2", [nowMs, id]);
      }
      return ids;
    }
    if (batch.events.length > 0) {
      const { rows } = await tx.query<{ id: number; ord: number }>(
        `INSERT INTO journal_events (platform, delivery_id, payload, received_at, owner, lease_until)
         SELECT p, d, pl, r, $5, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS t(p, d, pl, r, ord)
         ORDER BY ord
         ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING id, delivery_id, platform`,
        [
          batch.events.map((e) => e.platform),
          batch.events.map((e) => e.deliveryId),
          batch.events.map((e) => e.payload),
          batch.events.map((e) => e.receivedAt),
          owner,
          leaseUntil,
        ],
      );
      const byKey = new Map<string, number>();
      for (const row of rows as unknown as Array<{ id: number; delivery_id: string; platform: string }>) {
        byKey.set(`${row.platform}\u0000${row.delivery_id}`, row.id);
      }
      for (const e of batch.events) {
        const key = `${e.platform}\u0000${e.deliveryId}`;
        ids.push(byKey.get(key));
        byKey.delete(key); // the same delivery twice in one batch: the second is a redelivery
      }
    }
    if (batch.sent.length > 0) {
      await tx.query(
        `INSERT INTO journal_replies (event_id, idx, sent_at)
         SELECT e, i, $3 FROM unnest($1::bigint[], $2::int[]) AS t(e, i) ON CONFLICT (event_id, idx) DO NOTHING`,
        [batch.sent.map((s) => s.eventId), batch.sent.map((s) => s.index), nowMs],
      );
    }
    for (const u of batch.unsent) {
      await tx.query("DELETE FROM journal_replies WHERE event_id = $1 AND idx = $2", [u.eventId, u.index]);
    }
    if (batch.done.length > 0) {
      await tx.query("UPDATE journal_events SET done_at = $1 WHERE id = ANY($2::bigint[])", [nowMs, batch.done]);
    }
    return ids;
  });
}

/** `$from, $from+1, …` for an IN list of `count` values (SQLite binds no arrays). */
function inList(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(", ");
}

/**
 * Take over open events of `platforms`: on SQLite all of them (one process per data folder, so whatever is
 * open was left by a dead process); on PostgreSQL those whose owner's lease ran out.
 */
export async function claimOpen(
  sql: SqlClient,
  { owner, nowMs, leaseUntil, platforms }: { owner: string; nowMs: number; leaseUntil: number; platforms: string[] },
): Promise<number> {
  if (platforms.length === 0) return 0;
  const expired = sql.driver === "sqlite" ? "" : "AND lease_until < $3";
  const { rows } = await sql.query<{ id: number }>(
    `UPDATE journal_events SET owner = $1, lease_until = $2
     WHERE done_at IS NULL AND owner <> $1 ${expired} AND platform IN (${inList(4, platforms.length)}) RETURNING id`,
    [owner, leaseUntil, nowMs, ...platforms],
  );
  return rows.length;
}

/** Extend the leases of this owner's open events. */
export async function renewLeases(sql: SqlClient, owner: string, leaseUntil: number): Promise<void> {
  await sql.query("UPDATE journal_events SET lease_until = $2 WHERE owner = $1 AND done_at IS NULL", [
    owner,
    leaseUntil,
  ]);
}

/** This owner's open events of `platforms`, oldest first. */
export async function openEvents(
  sql: SqlClient,
  { owner, platforms, afterId, limit }: { owner: string; platforms: string[]; afterId: number; limit: number },
): Promise<OpenRow[]> {
  if (platforms.length === 0) return [];
  const { rows } = await sql.query<OpenRow>(
    `SELECT id, platform, delivery_id, payload FROM journal_events
     WHERE owner = $1 AND done_at IS NULL AND id > $2 AND platform IN (${inList(4, platforms.length)})
     ORDER BY id LIMIT $3`,
    [owner, afterId, limit, ...platforms],
  );
  return rows;
}

/** The reply indexes of an event already marked sent. */
export async function sentIndexes(sql: SqlClient, eventId: number): Promise<Set<number>> {
  const { rows } = await sql.query<{ idx: number }>("SELECT idx FROM journal_replies WHERE event_id = $1", [eventId]);
  return new Set(rows.map((row) => Number(row.idx)));
}

/**
 * Forget finished events: those done before `cutoffMs`, and beyond the newest `maxEvents` done ones. Open
 * events are never dropped: each is a command a platform was told we have.
 */
export async function prune(
  sql: SqlClient,
  { cutoffMs, maxEvents }: { cutoffMs: number; maxEvents: number },
): Promise<number> {
  return sql.transaction(async (tx) => {
    const { rows: newest } = await tx.query<{ id: number }>(
      "SELECT id FROM journal_events WHERE done_at IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET $1",
      [maxEvents],
    );
    const belowId = newest[0]?.id ?? 0;
    await tx.query(
      `DELETE FROM journal_replies WHERE event_id IN
       (SELECT id FROM journal_events WHERE done_at IS NOT NULL AND (done_at < $1 OR id <= $2))`,
      [cutoffMs, belowId],
    );
    const { rows } = await tx.query<{ id: number }>(
      "DELETE FROM journal_events WHERE done_at IS NOT NULL AND (done_at < $1 OR id <= $2) RETURNING id",
      [cutoffMs, belowId],
    );
    return rows.length;
  });
}
