/**
 * Three Switchboard processes share one PostgreSQL database and one Redis. Schedules added by a fourth
 * (non-firing) process are picked up by all three; each fire happens in exactly one of them; when one is
 * killed mid-way (SIGKILL), the other two go on firing every schedule exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { App } from "../../../bot/app/app.ts";
import { createApp } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { parseConfig } from "../../../config/index.ts";
import { createSchedulesPlugin, type SchedulesPlugin } from "../../../schedules/index.ts";
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from "../../helpers/services.ts";
import { markPlugin, quietAdapter } from "./mark.ts";

const hasServices = (await serviceAvailable("postgres")) && (await serviceAvailable("redis"));
const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
const dbName = `sb_sched_${process.pid}_${randomBytes(3).toString("hex")}`;
const dbUrl = (() => {
  const u = new URL(POSTGRES_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
let editor: App | undefined;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function startWorker(name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, DATABASE_URL: dbUrl, REDIS_URL, WORKER_NAME: name, FIRING: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let errText = "";
  child.stderr!.on("data", (d: Buffer) => {
    errText += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) =>
      reject(new Error(`worker ${name} exited (${code}) before ready: ${errText.slice(-2000)}`)),
    );
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once("exit", () => r()));
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(children.map(exited));
  await editor?.stop();
  if (hasServices) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(() => undefined);
});

describe.skipIf(!hasServices)("schedules across three processes (PostgreSQL + Redis)", () => {
  it("fires each schedule exactly once per fire time, also after one process is killed", async () => {
    await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
    // The first worker applies the migrations; the others then start together.
    const names = ["w1", "w2", "w3"];
    const first = await startWorker(names[0]!);
    const workers = [first, ...(await Promise.all(names.slice(1).map(startWorker)))];

    // A fourth process (this one) only edits: its engine does not fire.
    const config = parseConfig({
      http: { enabled: false },
      log: { level: "silent" },
      storage: { databaseUrl: dbUrl, redisUrl: REDIS_URL },
      adapters: { console: { enabled: false } },
      schedules: { enabled: false, minIntervalMs: 1_000, pollIntervalMs: 500, defaultTimeZone: "UTC" },
    });
    let plugin: SchedulesPlugin | undefined;
    editor = await createApp({
      config,
      console: false,
      platformAdapters: false,
      extraAdapters: [quietAdapter()],
      log: createLogger({ level: "silent", format: "json" }),
      plugins: [
        markPlugin("editor"),
        async (core) => (plugin = await createSchedulesPlugin(core, { processId: "editor" })),
      ],
    });
    await editor.start();
    const service = plugin!.service;

    const createdAt = Date.now();
    const ids: string[] = [];
    for (let n = 1; n <= 4; n++) {
      const s = await service.create({
        chat: { platform: "e2e", chatId: `c${n}`, chatKind: "group" },
        creator: { id: "u1", name: "u1" },
        createdBy: "user",
        when: { kind: "cron", expression: "*/2 * * * * *" },
        commandLine: `/mark ${n}`,
      });
      ids.push(s.id);
    }

    await sleep(5_000);
    const killed = workers[0]!;
    killed.kill("SIGKILL");
    await exited(killed);
    const killedAt = Date.now();
    await sleep(7_000);

    for (const id of ids) await service.pause(id);
    const pausedAt = Date.now();
    await sleep(1_500); // the workers see the pause on their next poll
    for (const w of workers.slice(1)) w.kill("SIGTERM");
    await Promise.all(workers.map(exited));

    const { marks, runs } = await admin(async () => {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      try {
        const m = await c.query<{ delivery_id: string; schedule_id: string; process: string; at: string }>(
          "SELECT delivery_id, schedule_id, process, at FROM e2e_marks",
        );
        const r = await c.query<{
          schedule_id: string;
          fire_time: string;
          kind: string;
          outcome: string;
          process: string;
        }>("SELECT schedule_id, fire_time, kind, outcome, process FROM schedule_runs");
        return { marks: m.rows, runs: r.rows };
      } finally {
        await c.end();
      }
    });

    // No fire ran twice.
    const byDelivery = new Map<string, number>();
    for (const m of marks) byDelivery.set(m.delivery_id, (byDelivery.get(m.delivery_id) ?? 0) + 1);
    expect([...byDelivery.entries()].filter(([, n]) => n > 1)).toEqual([]);

    // Every fire time from pick-up to the pause ran exactly once, except a fire the killed process had claimed
    // and not finished when it died (recorded as still running, never as done).
    const lost: string[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      // From after the workers' first poll to well before the pause (margins for a loaded machine).
      const from = Math.ceil((createdAt + 4_000) / 2_000) * 2_000;
      for (let t = from; t <= pausedAt - 3_000; t += 2_000) {
        const delivery = `schedule:${id}:${t}`;
        if (byDelivery.get(delivery) === 1) continue;
        const run = runs.find((r) => r.schedule_id === id && Number(r.fire_time) === t);
        if (run !== undefined && run.process === "w1" && run.outcome === "running" && Math.abs(t - killedAt) < 4_000)
          lost.push(delivery);
        else missing.push(`${delivery} (${run === undefined ? "no run" : `${run.process}:${run.outcome}`})`);
      }
    }
    expect(missing).toEqual([]);
    expect(lost.length).toBeLessThanOrEqual(ids.length);
    // After the kill the survivors fired everything, and the killed process nothing.
    expect(marks.filter((m) => m.process === "w1" && Number(m.at) > killedAt)).toEqual([]);
    const afterKill = marks.filter((m) => Number(m.at) > killedAt + 1_000);
    expect(afterKill.length).toBeGreaterThanOrEqual(ids.length * 2);
    expect(new Set(afterKill.map((m) => m.process)).size).toBeGreaterThanOrEqual(1);
    expect(afterKill.every((m) => m.process === "w2" || m.process === "w3")).toBe(true);
    // Each run row that finished says ok; claims are one per (schedule, fire time) by construction.
    expect(runs.filter((r) => r.kind === "scheduled" && r.outcome !== "ok" && r.outcome !== "running")).toEqual([]);
    console.info(
      `[schedules e2e] ${marks.length} fires; by process: ${JSON.stringify(
        Object.fromEntries(["w1", "w2", "w3"].map((w) => [w, marks.filter((m) => m.process === w).length])),
      )}; lost with the killed process: ${lost.length}`,
    );
  }, 120_000);
});
