/**
 * Schedule fires as a pipeline, not a loop: due fires are claimed in batches, run with bounded concurrency
 * across chats while each chat's fires run one after another in fire-time order, and their outcomes are
 * recorded in batches.
 *
 * Why: each fire costs a claim, the permission re-check, the router, the reply and a finish; done one after
 * another, 10,000 fires due in the same second were answered 12 s late, and since every claim was started at
 * once nobody got an answer until nearly everybody had been claimed. Here the first fire due is claimed alone
 * (so it is answered at once), the fires that fell due meanwhile are claimed together (one statement for up to
 * `batchSize`), claimed fires wait for a free lane (at most `concurrency` chats run at once), and claiming stops
 * while `concurrency × 4` claimed fires wait, so claimed-but-unrun fires stay few (a claimed fire whose process
 * dies is lost, never run twice).
 */

/** One fire the engine handed out. */
export interface DueFire {
  readonly id: string;
  readonly fireTime: number;
  readonly kind: "scheduled" | "catchup";
}

/** A claimed fire, with the chat whose order it keeps. */
export interface ClaimedFire<C> {
  readonly fire: DueFire;
  readonly chatKey: string;
  readonly claim: C;
}

/** What the pipeline drives. */
export interface FirePipelineOptions<C, R> {
  /** Claim a batch; fires another process has, or whose schedule is no longer active, are left out. */
  claim(fires: readonly DueFire[]): Promise<Array<ClaimedFire<C>>>;
  /** Run one claimed fire; resolves to what `record` writes. Must not reject (errors are outcomes). */
  run(claimed: ClaimedFire<C>): Promise<R>;
  /** Record a batch of outcomes. */
  record(results: readonly R[]): Promise<void>;
  /** Told when a claim or record fails (those fires are then lost: at most once). */
  onError(error: unknown, stage: "claim" | "record" | "run"): void;
  /** Most fires claimed by one statement. Default 256. */
  batchSize?: number;
  /** Most chats whose fires run at once. Default 64. */
  concurrency?: number;
}

/** The firing pipeline (see the module doc). */
export class FirePipeline<C, R> {
  readonly #o: FirePipelineOptions<C, R>;
  readonly #batchSize: number;
  readonly #concurrency: number;
  #due: DueFire[] = [];
  #dueHead = 0;
  #isClaiming = false;
  /** Claimed fires waiting for their lane. */
  #waiting = 0;
  /** Per chat, claimed fires not yet run, in order; a chat is in `#ready` only while it is not running. */
  readonly #lanes = new Map<string, Array<ClaimedFire<C>>>();
  #ready: string[] = [];
  #readyHead = 0;
  #running = 0;
  #results: R[] = [];
  #isRecording = false;
  #isRecordQueued = false;
  #whenIdle: Promise<void> | undefined;
  #resolveIdle: (() => void) | undefined;
  /** Claim statements run, for the benchmark and tests. */
  claimBatches = 0;
  /** Record statements run. */
  recordBatches = 0;

  constructor(options: FirePipelineOptions<C, R>) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 256;
    this.#concurrency = options.concurrency ?? 64;
  }

  /** Hand over a due fire. */
  push(fire: DueFire): void {
    this.#due.push(fire);
    this.#busy();
    this.#claimNext();
  }

  /** Resolves when every fire handed over has been claimed, run and recorded. */
  idle(): Promise<void> {
    return this.#whenIdle ?? Promise.resolve();
  }

  #busy(): void {
    if (this.#whenIdle !== undefined) return;
    this.#whenIdle = new Promise((resolve) => {
      this.#resolveIdle = resolve;
    });
  }

  #checkIdle(): void {
    if (
      this.#dueHead < this.#due.length ||
      this.#isClaiming ||
      this.#waiting > 0 ||
      this.#running > 0 ||
      this.#results.length > 0 ||
      this.#isRecording
    )
      return;
    const resolve = this.#resolveIdle;
    this.#whenIdle = undefined;
    this.#resolveIdle = undefined;
    resolve?.();
  }

  #claimNext(): void {
    if (this.#isClaiming || this.#dueHead >= this.#due.length || this.#waiting >= this.#concurrency * 4) return;
    const end = Math.min(this.#due.length, this.#dueHead + this.#batchSize);
    const batch = this.#due.slice(this.#dueHead, end);
    this.#dueHead = end;
    if (this.#dueHead === this.#due.length) {
      this.#due = [];
      this.#dueHead = 0;
    }
    this.#isClaiming = true;
    this.claimBatches++;
    this.#o
      .claim(batch)
      .then(
        (claimed) => {
          for (const item of claimed) this.#enqueue(item);
          this.#startLanes();
        },
        (error: unknown) => this.#o.onError(error, "claim"),
      )
      .finally(() => {
        this.#isClaiming = false;
        this.#claimNext();
        this.#checkIdle();
      });
  }

  #enqueue(item: ClaimedFire<C>): void {
    this.#waiting++;
    const lane = this.#lanes.get(item.chatKey);
    if (lane !== undefined) {
      lane.push(item);
      return;
    }
    this.#lanes.set(item.chatKey, [item]);
    this.#ready.push(item.chatKey);
  }

  #startLanes(): void {
    while (this.#running < this.#concurrency && this.#readyHead < this.#ready.length) {
      const chatKey = this.#ready[this.#readyHead++]!;
      this.#runLane(chatKey);
    }
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    }
  }

  #runLane(chatKey: string): void {
    const lane = this.#lanes.get(chatKey)!;
    const item = lane.shift()!;
    this.#waiting--;
    this.#running++;
    let work: Promise<R>;
    try {
      work = this.#o.run(item);
    } catch (error) {
      work = Promise.reject(error);
    }
    work
      .then(
        (result) => {
          this.#results.push(result);
          this.#queueRecord();
        },
        (error: unknown) => this.#o.onError(error, "run"),
      )
      .finally(() => {
        this.#running--;
        if (lane.length === 0) this.#lanes.delete(chatKey);
        else this.#ready.push(chatKey); // behind the chats waiting: fair across chats
        this.#startLanes();
        this.#claimNext();
        this.#checkIdle();
      });
  }

  /** Outcomes of one event-loop turn are written together; one write at a time. */
  #queueRecord(): void {
    if (this.#isRecordQueued || this.#isRecording) return;
    this.#isRecordQueued = true;
    setImmediate(() => {
      this.#isRecordQueued = false;
      this.#record();
    });
  }

  #record(): void {
    if (this.#isRecording || this.#results.length === 0) {
      this.#checkIdle();
      return;
    }
    const batch = this.#results.splice(0, 1_024);
    this.#isRecording = true;
    this.recordBatches++;
    this.#o
      .record(batch)
      .catch((error: unknown) => this.#o.onError(error, "record"))
      .finally(() => {
        this.#isRecording = false;
        if (this.#results.length > 0) this.#record();
        else this.#checkIdle();
      });
  }
}
