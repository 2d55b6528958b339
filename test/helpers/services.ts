/**
 * Real PostgreSQL and Redis for scale-out tests. A suite asks `await services()` and runs when the server
 * answers; when `CI=true` a missing server fails the run; elsewhere the suite skips with one line saying what
 * to start.
 */
import { createConnection } from "node:net";

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const START_HINT = {
  postgres:
    "start PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`): pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  redis:
    "start Redis on 127.0.0.1:6379: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
} as const;

const cache = new Map<string, Promise<boolean>>();

function answers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * True when the server answers. Under `CI=true` a silent server throws (the suite must run there);
 * elsewhere it prints one line saying what to start and returns false.
 */
export async function serviceAvailable(name: "postgres" | "redis"): Promise<boolean> {
  let probe = cache.get(name);
  if (probe === undefined) {
    const url = new URL(name === "postgres" ? POSTGRES_URL : REDIS_URL);
    probe = answers(url.hostname, Number(url.port || (name === "postgres" ? 5432 : 6379)));
    cache.set(name, probe);
  }
  const ok = await probe;
  if (!ok) {
    if (process.env.CI === "true") throw new Error(`CI=true but ${name} does not answer: ${START_HINT[name]}`);
    console.warn(`[skip] ${name} tests skipped: ${START_HINT[name]}`);
  }
  return ok;
}
