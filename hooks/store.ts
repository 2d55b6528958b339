/**
 * The hooks' tables: `hooks` (one row per inbound hook, its secret sealed), `hook_deliveries` (the durable queue
 * and dedupe window: unique per hook and delivery id), `workflows` and `workflow_runs`. Queue writes are
 * group-committed (`DeliveryRepo`): every insert and sent mark asked for in one turn, or while the commits under way
 * ran, goes in the next commit.
 */
import type { ConversationTarget, Migration, SqlClient } from "../bot/index.ts";

/** Migrations, applied by the composition root before any plugin starts. */
export const HOOKS_MIGRATIONS: readonly Migration[] = [
  {
    id: "hooks-001-hooks",
    sql: `
CREATE TABLE IF NOT EXISTS hooks (
  id TEXT PRIMARY KEY,
  chat_key TEXT NOT NULL,
  name TEXT NOT NULL,
  target TEXT NOT NULL,
  template TEXT NOT NULL,
  secret TEXT NOT NULL,
  options TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  rotated_at BIGINT,
  UNIQUE (chat_key, name)
);
CREATE TABLE IF NOT EXISTS hook_deliveries (
  id BIGSERIAL PRIMARY KEY,
  hook_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  meta TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_at BIGINT NOT NULL,
  lease_until BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  done_at BIGINT,
  error TEXT,
  UNIQUE (hook_id, delivery_id)
);
CREATE INDEX IF NOT EXISTS hook_deliveries_due ON hook_deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS hook_deliveries_done ON hook_deliveries (done_at);
CREATE TABLE IF NOT EXISTS workflows (
  chat_key TEXT NOT NULL,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  hook_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (chat_key, name)
);
CREATE TABLE IF NOT EXISTS workflow_runs (
  id TEXT PRIMARY KEY,
  hook_id TEXT NOT NULL,
  name TEXT NOT NULL,
  target TEXT NOT NULL,
  progress TEXT,
  started_by TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workflow_runs_started ON workflow_runs (started_at);
`,
  },
];

/** The templates a hook may use; `workflow` is the callback hook of a workflow. */
export const TEMPLATES = ["alertmanager", "github", "grafana", "generic", "workflow"] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** A hook's per-hook options. */
export interface HookOptions {
  /** Mentions in rendered text notify people (off: they are neutralised). */
  allowMentions?: boolean;
  /** generic: a logic-less Mustache template of the message. */
  format?: string;
  /** generic: message field → dotted path in the payload (`title`, `text`, `link`). */
  map?: Record<string, string>;
}

/** One hook, its secret still sealed. */
export interface HookRecord {
  id: string;
  chatKey: string;
  name: string;
  target: ConversationTarget;
  template: TemplateName;
  sealedSecret: string;
  options: HookOptions;
  createdBy: string;
  createdAt: number;
  rotatedAt: number | null;
}

interface HookRow {
  id: string;
  chat_key: string;
  name: string;
  target: string;
  template: string;
  secret: string;
  options: string;
  created_by: string;
  created_at: string | number;
  rotated_at: string | number | null;
}

function hookOf(row: HookRow): HookRecord {
  return {
    id: row.id,
    chatKey: row.chat_key,
    name: row.name,
    target: JSON.parse(row.target) as ConversationTarget,
    template: row.template as TemplateName,
    sealedSecret: row.secret,
    options: JSON.parse(row.options) as HookOptions,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    rotatedAt: row.rotated_at === null ? null : Number(row.rotated_at),
  };
}

/** The `hooks` table. */
export class HookRepo {
  readonly #sql: SqlClient;
  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async create(hook: HookRecord): Promise<void> {
    await this.#sql.query(
      "INSERT INTO hooks (id, chat_key, name, target, template, secret, options, created_by, created_at, rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
      [
        hook.id,
        hook.chatKey,
        hook.name,
        JSON.stringify(hook.target),
        hook.template,
        hook.sealedSecret,
        JSON.stringify(hook.options),
        hook.createdBy,
        hook.createdAt,
      ],
    );
  }

  async get(id: string): Promise<HookRecord | undefined> {
    const { rows } = await this.#sql.query<HookRow>("SELECT * FROM hooks WHERE id = $1", [id]);
    return rows[0] === undefined ? undefined : hookOf(rows[0]);
  }

  async byName(chatKey: string, name: string): Promise<HookRecord | undefined> {
    const { rows } = await this.#sql.query<HookRow>("SELECT * FROM hooks WHERE chat_key = $1 AND name = $2", [
      chatKey,
      name,
    ]);
    return rows[0] === undefined ? undefined : hookOf(rows[0]);
  }

  /** A chat's hooks (workflow callback hooks left out), by name. */
  async list(chatKey: string): Promise<HookRecord[]> {
    const { rows } = await this.#sql.query<HookRow>(
      "SELECT * FROM hooks WHERE chat_key = $1 AND template <> 'workflow' ORDER BY name",
      [chatKey],
    );
    return rows.map(hookOf);
  }

  async count(chatKey: string): Promise<number> {
    const { rows } = await this.#sql.query<{ n: string | number }>(
      "SELECT COUNT(*) AS n FROM hooks WHERE chat_key = $1 AND template <> 'workflow'",
      [chatKey],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async rotate(id: string, o: { sealedSecret: string; at: number }): Promise<void> {
    await this.#sql.query("UPDATE hooks SET secret = $1, rotated_at = $2 WHERE id = $3", [o.sealedSecret, o.at, id]);
  }

  async remove(id: string): Promise<boolean> {
    const { rows } = await this.#sql.query<{ id: string }>("DELETE FROM hooks WHERE id = $1 RETURNING id", [id]);
    return rows.length > 0;
  }

  /** Last delivery and failures per hook of a chat, for `/hooks list`. */
  async stats(hookIds: readonly string[]): Promise<Map<string, { lastAt: number | null; failed: number }>> {
    const out = new Map<string, { lastAt: number | null; failed: number }>();
    for (const id of hookIds) {
      const { rows } = await this.#sql.query<{ last_at: string | number | null; failed: string | number }>(
        "SELECT MAX(CASE WHEN state = 'sent' THEN done_at END) AS last_at, SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed FROM hook_deliveries WHERE hook_id = $1",
        [id],
      );
      const row = rows[0];
      out.set(id, {
        lastAt: row?.last_at === null || row?.last_at === undefined ? null : Number(row.last_at),
        failed: Number(row?.failed ?? 0),
      });
    }
    return out;
  }
}

/** Runs queued operations in one transaction per round (group commit); each caller gets its own result. */
export class GroupCommit {
  readonly #sql: SqlClient;
  #pending: Array<{ op: (tx: SqlClient) => Promise<unknown>; resolve(v: unknown): void; reject(e: unknown): void }> =
    [];
  #running: Promise<void> | undefined;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  /** Run `op` in the next group transaction; resolves once that transaction committed. */
  run<T>(op: (tx: SqlClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      this.#running ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // Let the rest of this turn's callers join the first round.
    await new Promise<void>((r) => setImmediate(r));
    while (this.#pending.length > 0) {
      const round = this.#pending;
      this.#pending = [];
      try {
        const results = await this.#sql.transaction(async (tx) => {
          const out: unknown[] = [];
          for (const item of round) out.push(await item.op(tx));
          return out;
        });
        for (const [i, item] of round.entries()) item.resolve(results[i]);
      } catch (error) {
        for (const item of round) item.reject(error);
      }
    }
    this.#running = undefined;
  }
}

/** One queued delivery. */
export interface QueuedDelivery {
  id: number;
  hookId: string;
  deliveryId: string;
  payload: string;
  meta: Record<string, string>;
  attempts: number;
}

interface DeliveryRow {
  id: string | number;
  hook_id: string;
  delivery_id: string;
  payload: string;
  meta: string;
  attempts: number | string;
}

const deliveryOf = (row: DeliveryRow): QueuedDelivery => ({
  id: Number(row.id),
  hookId: row.hook_id,
  deliveryId: row.delivery_id,
  payload: row.payload,
  meta: JSON.parse(row.meta) as Record<string, string>,
  attempts: Number(row.attempts),
});

/** One delivery to queue. */
export interface NewDelivery {
  hookId: string;
  deliveryId: string;
  payload: string;
  meta: Record<string, string>;
  at: number;
  leaseUntil: number;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Deliveries per commit: 6 parameters a row on the embedded store, far under its limit. */
const MAX_INSERTS_PER_COMMIT = 500;
/** Sent marks per commit. */
const MAX_MARKS_PER_COMMIT = 1_000;
/**
 * Commits under way at once on PostgreSQL: a batch that forms while one commits goes out at once on another
 * connection instead of waiting for it (the pool holds 10). The embedded store has one connection: one at a time.
 */
const POSTGRES_COMMITS_IN_FLIGHT = 4;

/**
 * PostgreSQL: a commit's sent marks and inserts in one statement (one round trip, atomic on its own, so no
 * BEGIN or COMMIT): the UPDATE in a data-modifying WITH runs to completion whether or not it is read. Arrays
 * keep the text the same whatever the batch size. A delivery id twice in one batch is inserted once.
 */
const PG_INSERT = `INSERT INTO hook_deliveries (hook_id, delivery_id, payload, meta, state, attempts, next_at, lease_until, received_at)
SELECT h, d, p, m, 'queued', 0, a, l, a FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS t(h, d, p, m, a, l)
ON CONFLICT (hook_id, delivery_id) DO NOTHING RETURNING id, hook_id, delivery_id`;
const PG_MARK =
  "UPDATE hook_deliveries SET state = 'sent', done_at = $7, attempts = attempts + 1 WHERE id = ANY($8::bigint[])";

interface Batch {
  inserts: Array<{ d: NewDelivery } & Waiter<QueuedDelivery | undefined>>;
  sent: Array<{ id: number; at: number } & Waiter<void>>;
}

/**
 * The `hook_deliveries` queue. Inserts and sent marks asked for in one turn of the event loop, or while the
 * commits under way ran, are written together (group commit): on PostgreSQL one statement per commit, whatever
 * the number of deliveries, with up to 4 commits under way; on the embedded store one multi-row INSERT and one
 * UPDATE in one transaction. Every caller is answered once the commit that holds its row is done, with that
 * commit's outcome: a commit that fails fails each of its callers, and none of its rows was written.
 */
export class DeliveryRepo {
  readonly #sql: SqlClient;
  readonly #group: GroupCommit;
  readonly #maxInFlight: number;
  #pending: Batch = { inserts: [], sent: [] };
  #inFlight = 0;
  #isScheduled = false;

  constructor(sql: SqlClient) {
    this.#sql = sql;
    this.#group = new GroupCommit(sql);
    this.#maxInFlight = sql.driver === "postgres" ? POSTGRES_COMMITS_IN_FLIGHT : 1;
  }

  /** Commits under way now (for tests and `/status`). */
  get committing(): number {
    return this.#inFlight;
  }

  /**
   * Queue a delivery, leased to this process until `leaseUntil`; resolves once it is committed, with the queued
   * row, or undefined when this hook already has that delivery id (a redelivery).
   */
  enqueue(d: NewDelivery): Promise<QueuedDelivery | undefined> {
    return new Promise((resolve, reject) => {
      this.#pending.inserts.push({ d, resolve, reject });
      this.#schedule();
    });
  }

  /** Mark sent, right before the platform call: a crash after this does not send it again. */
  markSent(id: number, at: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.sent.push({ id, at, resolve, reject });
      this.#schedule();
    });
  }

  // The first commit waits for the end of this turn, so the rest of the turn's callers join it.
  #schedule(): void {
    if (this.#isScheduled) return;
    this.#isScheduled = true;
    setImmediate(() => {
      this.#isScheduled = false;
      this.#start();
    });
  }

  #start(): void {
    while (this.#inFlight < this.#maxInFlight) {
      const { inserts, sent } = this.#pending;
      if (inserts.length === 0 && sent.length === 0) return;
      const batch: Batch = {
        inserts: inserts.splice(0, MAX_INSERTS_PER_COMMIT),
        sent: sent.splice(0, MAX_MARKS_PER_COMMIT),
      };
      this.#inFlight++;
      void this.#commit(batch).finally(() => {
        this.#inFlight--;
        this.#start();
      });
    }
  }

  async #commit(batch: Batch): Promise<void> {
    try {
      const ids =
        this.#sql.driver === "postgres"
          ? await this.#writePostgres(batch)
          : await this.#sql.transaction((tx) => this.#writeEmbedded(tx, batch));
      for (const item of batch.inserts) {
        const key = `${item.d.hookId}\n${item.d.deliveryId}`;
        const id = ids.get(key);
        // A key twice in one commit: the first caller gets the row, the second is the redelivery.
        ids.delete(key);
        const { hookId, deliveryId, payload, meta } = item.d;
        item.resolve(id === undefined ? undefined : { id, hookId, deliveryId, payload, meta, attempts: 0 });
      }
      for (const mark of batch.sent) mark.resolve();
    } catch (error) {
      for (const item of batch.inserts) item.reject(error);
      for (const mark of batch.sent) mark.reject(error);
    }
  }

  async #writePostgres({ inserts, sent }: Batch): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    const columns: [string[], string[], string[], string[], number[], number[]] = [[], [], [], [], [], []];
    for (const { d } of inserts) {
      columns[0].push(d.hookId);
      columns[1].push(d.deliveryId);
      columns[2].push(d.payload);
      columns[3].push(JSON.stringify(d.meta));
      columns[4].push(d.at);
      columns[5].push(d.leaseUntil);
    }
    const markAt = sent.reduce((max, m) => Math.max(max, m.at), 0);
    const markIds = sent.map((m) => m.id);
    let rows: Array<{ id: string | number; hook_id: string; delivery_id: string }>;
    if (sent.length === 0) ({ rows } = await this.#sql.query(PG_INSERT, columns));
    else if (inserts.length === 0)
      ({ rows } = await this.#sql.query(PG_MARK.replace("$7", "$1").replace("$8", "$2"), [markAt, markIds]));
    else ({ rows } = await this.#sql.query(`WITH marked AS (${PG_MARK}) ${PG_INSERT}`, [...columns, markAt, markIds]));
    for (const row of rows) ids.set(`${row.hook_id}\n${row.delivery_id}`, Number(row.id));
    return ids;
  }

  async #writeEmbedded(tx: SqlClient, { inserts, sent }: Batch): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    if (inserts.length > 0) {
      const params: unknown[] = [];
      const values = inserts.map(({ d }) => {
        const n = params.length;
        params.push(d.hookId, d.deliveryId, d.payload, JSON.stringify(d.meta), d.at, d.leaseUntil);
        return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, 'queued', 0, $${n + 5}, $${n + 6}, $${n + 5})`;
      });
      const { rows } = await tx.query<{ id: string | number; hook_id: string; delivery_id: string }>(
        `INSERT INTO hook_deliveries (hook_id, delivery_id, payload, meta, state, attempts, next_at, lease_until, received_at) VALUES ${values.join(", ")} ON CONFLICT (hook_id, delivery_id) DO NOTHING RETURNING id, hook_id, delivery_id`,
        params,
      );
      for (const row of rows) ids.set(`${row.hook_id}\n${row.delivery_id}`, Number(row.id));
    }
    if (sent.length > 0) {
      const list = sent.map((_, i) => `$${i + 2}`).join(", ");
      await tx.query(
        `UPDATE hook_deliveries SET state = 'sent', done_at = $1, attempts = attempts + 1 WHERE id IN (${list})`,
        [sent.reduce((max, m) => Math.max(max, m.at), 0), ...sent.map((m) => m.id)],
      );
    }
    return ids;
  }

  /**
   * Claim due deliveries whose lease ran out (another process died, or a retry is due); `leasedBefore` also takes
   * leases that have not run out (the embedded store at start: the one process that held them is gone).
   */
  async claim(o: { now: number; leaseUntil: number; limit: number; leasedBefore?: number }): Promise<QueuedDelivery[]> {
    // One statement: the lease is taken on the rows the subquery locked (PostgreSQL skips rows another process
    // is claiming; the embedded store has one writer).
    const { rows } = await this.#sql.query<DeliveryRow>(
      "UPDATE hook_deliveries SET lease_until = $1 WHERE id IN (SELECT id FROM hook_deliveries WHERE state = 'queued' AND next_at <= $2 AND lease_until <= $3 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id, hook_id, delivery_id, payload, meta, attempts",
      [o.leaseUntil, o.now, o.leasedBefore ?? o.now, o.limit],
    );
    return rows.map(deliveryOf).sort((a, b) => a.id - b.id);
  }

  /** The platform call failed: back in the queue at `nextAt`, or given up (`failed`). */
  markFailed(id: number, o: { error: string; nextAt: number | undefined; at: number }): Promise<void> {
    return this.#group.run(async (tx) => {
      await tx.query(
        o.nextAt === undefined
          ? "UPDATE hook_deliveries SET state = 'failed', done_at = $1, error = $2 WHERE id = $3"
          : "UPDATE hook_deliveries SET state = 'queued', next_at = $1, lease_until = 0, error = $2 WHERE id = $3",
        [o.nextAt ?? o.at, o.error.slice(0, 500), id],
      );
    });
  }

  /** Forget finished deliveries older than `before` (the end of the dedupe window). */
  async prune(before: number): Promise<number> {
    const { rows } = await this.#sql.query<{ id: string }>(
      "DELETE FROM hook_deliveries WHERE state IN ('sent', 'failed') AND done_at < $1 RETURNING id",
      [before],
    );
    return rows.length;
  }

  /** How many deliveries wait in the queue. */
  async queued(): Promise<number> {
    const { rows } = await this.#sql.query<{ n: string | number }>(
      "SELECT COUNT(*) AS n FROM hook_deliveries WHERE state = 'queued'",
    );
    return Number(rows[0]?.n ?? 0);
  }
}
