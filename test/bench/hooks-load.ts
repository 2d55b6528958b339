/**
 * The load generator of `hooks.ts`, a process of its own (as every HTTP benchmark tool is), so the bot's process
 * spends its CPU on the bot and not on the client. Driven over IPC by `startLoad()`: for each round it builds every
 * request first (a JSON body, the hook's bearer and an idempotency key of its own per event), answers `ready`, and
 * on `go` sends them through an undici `Pool` with a fixed number in flight (keep-alive, one request per
 * connection at a time). It answers with each request's start on the machine's monotonic clock
 * (`process.hrtime`, CLOCK_MONOTONIC on Linux, the same in every process), so the bot's side can time each event
 * from its request's start to the moment its message is handed to the adapter, and with its own CPU time.
 *
 * Not a benchmark by itself; `hooks.ts` forks it.
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** Milliseconds on the monotonic clock shared by every process on the machine. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** One round of load. */
export interface LoadRound {
  /** `/hooks/<id>` or the floor's route. */
  path: string;
  authorization: string;
  /** Prefix of each event's text and idempotency key, unique per round. */
  tag: string;
  events: number;
}

/** What a round sent: each request's start (monotonic ms, by event index) and the generator's CPU time. */
export interface LoadResult {
  starts: number[];
  cpuUs: number;
}

type ToChild = { type: "prepare"; round: LoadRound } | { type: "go" };
type ToParent = { type: "ready" } | ({ type: "done" } & LoadResult) | { type: "failed"; error: string };

/** The text an event carries, which the adapter sees as the rendered message (template `{{text}}`). */
export const eventText = (tag: string, i: number): string => `${tag}e${i}`;

/** A generator process against `origin` with `inFlight` connections. */
export interface LoadGenerator {
  /** Builds the round's requests in the generator; resolves when they are built, before any is sent. */
  prepare(round: LoadRound): Promise<void>;
  /** Sends the prepared round; resolves when every answer is in. */
  go(): Promise<LoadResult>;
  close(): Promise<void>;
}

export async function startLoad(o: { origin: string; inFlight: number }): Promise<LoadGenerator> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [o.origin, String(o.inFlight)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = async (): Promise<ToParent> => {
    const [message] = (await once(child, "message")) as [ToParent];
    if (message.type === "failed") throw new Error(`load generator: ${message.error}`);
    return message;
  };
  return {
    async prepare(round) {
      child.send({ type: "prepare", round } satisfies ToChild);
      await next();
    },
    async go() {
      child.send({ type: "go" } satisfies ToChild);
      const done = await next();
      if (done.type !== "done") throw new Error(`load generator: unexpected ${done.type}`);
      return { starts: done.starts, cpuUs: done.cpuUs };
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.disconnect();
      await exited;
    },
  };
}

async function serve(origin: string, inFlight: number): Promise<void> {
  const { Pool } = await import("undici");
  const pool = new Pool(origin, { connections: inFlight, pipelining: 1 });
  let prepared: { bodies: string[]; headers: Array<Record<string, string>>; path: string } | undefined;
  const send = (message: ToParent) => process.send!(message);
  process.on("disconnect", () => {
    void pool.close();
  });
  process.on("message", (message: ToChild) => {
    if (message.type === "prepare") {
      const { round } = message;
      const bodies: string[] = [];
      const headers: Array<Record<string, string>> = [];
      for (let i = 0; i < round.events; i++) {
        const text = eventText(round.tag, i);
        bodies.push(JSON.stringify({ text, service: "api", n: i }));
        headers.push({
          "content-type": "application/json",
          authorization: round.authorization,
          "idempotency-key": text,
        });
      }
      prepared = { bodies, headers, path: round.path };
      send({ type: "ready" });
      return;
    }
    const round = prepared!;
    prepared = undefined;
    const cpu = process.cpuUsage();
    const starts = new Array<number>(round.bodies.length);
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < round.bodies.length) {
        const i = nextIndex++;
        starts[i] = monotonicMs();
        const res = await pool.request({
          method: "POST",
          path: round.path,
          headers: round.headers[i],
          body: round.bodies[i],
        });
        await res.body.dump();
        if (res.statusCode !== 202) throw new Error(`${round.path}: HTTP ${res.statusCode}`);
      }
    };
    Promise.all(Array.from({ length: inFlight }, worker)).then(
      () => {
        const used = process.cpuUsage(cpu);
        send({ type: "done", starts, cpuUs: (used.user + used.system) / round.bodies.length });
      },
      (error: unknown) => send({ type: "failed", error: String(error) }),
    );
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  await serve(process.argv[2]!, Number(process.argv[3]));
}
