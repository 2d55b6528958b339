/**
 * WAL checkpoints of the embedded store, off the event loop. SQLite's automatic checkpoint runs inside the commit
 * that takes the WAL past 1,000 pages: it copies the WAL into the database file and syncs both, 18–42 ms on this
 * project's disks, on the event loop (`node:sqlite` is synchronous). In the running bot that was 1 commit in
 * 100 and half the time of all commits together: a journal commit of a poll batch cost 0.45 ms on average against
 * 0.08 ms for its median (docs/architecture.md). Here the main connection never checkpoints on its own
 * (`wal_autocheckpoint = 0`); a worker thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)`,
 * which neither waits for nor blocks the main connection's writes.
 *
 * A checkpoint is asked for once 100 writes (transactions, statements outside one) have been made since the last
 * one, at most one per `intervalMs`, the last writes of a burst included: about as often as SQLite's 1,000 pages
 * under the journal's commits, and not at all for the few writes of a start (the WAL waits; it is as durable as
 * the database file). The worker starts with the first checkpoint and closes after a minute without one, so an
 * idle bot does not carry its 20 MB. A WAL is reset (written again from its start) by the first commit after a checkpoint that copied
 * all of it; under writes that never pause the worker cannot catch up, so once it reports more than `capFrames`
 * frames, the main connection checkpoints the rest itself, once, between two transactions (what SQLite's
 * automatic checkpoint did every 1,000 pages): the WAL stays bounded. If the worker cannot run, the main
 * connection goes back to SQLite's automatic checkpoint.
 */
import { Worker } from "node:worker_threads";

/** What `PRAGMA wal_checkpoint` answers: busy (1 if it could not finish), frames in the WAL, frames copied. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/** Options for `Checkpointer`. */
export interface CheckpointerOptions {
  /** The database file (the main connection's). */
  file: string;
  /** At most one checkpoint per this many ms. */
  intervalMs?: number;
  /** Writes (transactions, statements outside one) before a checkpoint is asked for. */
  minWrites?: number;
  /** The worker is closed after this many ms without a checkpoint asked for. */
  idleMs?: number;
  /** Past this many frames in the WAL, the main connection checkpoints the rest itself. */
  capFrames?: number;
  /** Checkpoint on the main connection, between transactions. */
  inline(): Promise<CheckpointResult | undefined>;
  /** The worker could not run: checkpoint as SQLite does by default again. */
  fallBack(error: unknown): void;
}

// Plain JavaScript, so it runs the same from the sources and from the bundle in dist/.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { DatabaseSync } = process.getBuiltinModule("node:sqlite");
const db = new DatabaseSync(workerData.file);
db.exec("PRAGMA busy_timeout = 5000");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ result: checkpoint.get() });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
});
`;

interface Waiter {
  resolve(result: CheckpointResult): void;
  reject(error: unknown): void;
}

/** Asks a worker thread for checkpoints; see the module comment. */
export class Checkpointer {
  readonly #o: Required<Omit<CheckpointerOptions, "inline" | "fallBack">> & CheckpointerOptions;
  #worker: Worker | undefined;
  /** Who waits for the current worker's answers, in order (each worker has its own: one closing does not fail the next). */
  #waiters: Waiter[] = [];
  #inFlight: Promise<CheckpointResult | undefined> | undefined;
  #lastAskedAt = Number.NEGATIVE_INFINITY;
  #trailing: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #isDirty = false;
  #writes = 0;
  #isFailed = false;
  #isClosed = false;
  /** Counts for tests and benchmarks. */
  readonly stats = { checkpoints: 0, inline: 0, workers: 0 };

  constructor(options: CheckpointerOptions) {
    this.#o = { intervalMs: 500, minWrites: 100, idleMs: 60_000, capFrames: 16_384, ...options };
  }

  /** True while a worker thread runs (it closes after `idleMs` without a checkpoint). */
  get hasWorker(): boolean {
    return this.#worker !== undefined;
  }

  /** A transaction or a statement outside one wrote: ask for a checkpoint, at most one per interval. */
  noteWrite(): void {
    this.#isDirty = true;
    if (++this.#writes < this.#o.minWrites) return;
    if (this.#trailing !== undefined || this.#inFlight !== undefined || this.#isFailed || this.#isClosed) return;
    const waitMs = this.#lastAskedAt + this.#o.intervalMs - performance.now();
    if (waitMs <= 0) {
      void this.checkpoint();
      return;
    }
    this.#trailing = setTimeout(() => {
      this.#trailing = undefined;
      if (this.#inFlight === undefined) void this.checkpoint();
    }, waitMs);
    this.#trailing.unref();
  }

  /** Checkpoint in the worker now (the one running, if any); undefined once it has failed or closed. */
  checkpoint(): Promise<CheckpointResult | undefined> {
    if (this.#isFailed || this.#isClosed) return Promise.resolve(undefined);
    this.#inFlight ??= this.#run().finally(() => {
      this.#inFlight = undefined;
      // Writes made while it ran: the next checkpoint, an interval after this one began.
      if (this.#isDirty && this.#writes >= this.#o.minWrites) this.noteWrite();
    });
    return this.#inFlight;
  }

  async #run(): Promise<CheckpointResult | undefined> {
    this.#lastAskedAt = performance.now();
    this.#isDirty = false;
    this.#writes = 0;
    let result: CheckpointResult;
    try {
      result = await this.#ask();
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
    this.stats.checkpoints++;
    this.#armIdle();
    if (result.log > this.#o.capFrames) {
      this.stats.inline++;
      return (await this.#o.inline()) ?? result;
    }
    return result;
  }

  #ask(): Promise<CheckpointResult> {
    const worker = this.#started();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      worker.postMessage("checkpoint");
    });
  }

  #started(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER, { eval: true, workerData: { file: this.#o.file } });
    const waiters: Waiter[] = [];
    this.#waiters = waiters;
    this.stats.workers++;
    worker.unref();
    worker.on("message", (message: { result?: CheckpointResult; error?: string }) => {
      const waiter = waiters.shift();
      if (message.result === undefined) waiter?.reject(new Error(message.error ?? "checkpoint failed"));
      else waiter?.resolve(numbers(message.result));
    });
    worker.on("error", (error) => this.#fail(error));
    worker.on("exit", () => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error("the checkpoint worker exited"));
    });
    this.#worker = worker;
    return worker;
  }

  #armIdle(): void {
    if (this.#idle !== undefined) {
      this.#idle.refresh();
      return;
    }
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#inFlight === undefined && this.#trailing === undefined) void this.#stopWorker();
      else this.#armIdle();
    }, this.#o.idleMs);
    this.#idle.unref();
  }

  #fail(error: unknown): void {
    if (this.#isFailed) return;
    this.#isFailed = true;
    clearTimeout(this.#trailing);
    void this.#stopWorker();
    this.#o.fallBack(error);
  }

  /** Close the worker's connection and let the thread end (terminated if it does not within a second). */
  async #stopWorker(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("close");
    const timer = setTimeout(() => void worker.terminate(), 1_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stop asking and close the worker (before the main connection closes, so that one checkpoints last). */
  async close(): Promise<void> {
    this.#isClosed = true;
    clearTimeout(this.#trailing);
    clearTimeout(this.#idle);
    await this.#inFlight?.catch(() => undefined);
    await this.#stopWorker();
  }
}

function numbers(row: CheckpointResult): CheckpointResult {
  return { busy: Number(row.busy), log: Number(row.log), checkpointed: Number(row.checkpointed) };
}
