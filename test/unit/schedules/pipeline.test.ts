/**
 * A burst of due schedules goes through the firing pipeline: claimed in batches, run with bounded concurrency
 * across chats, each chat's fires one after another in the order they fell due, outcomes recorded in batches.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { PlatformRole } from "../../../bot/index.ts";
import { FirePipeline, HELD_MAX_TRIES, type DueFire } from "../../../schedules/pipeline.ts";
import { FakeTime } from "./fake-time.ts";
import { startHarness, type Harness } from "./harness.ts";

const START = Date.UTC(2026, 5, 1, 11, 58, 30);
const DUE = Date.UTC(2026, 5, 1, 12, 0);
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe("schedule fires as a pipeline", () => {
  it("claims a burst in batches, keeps each chat's order and runs at most `fireConcurrency` chats at once", async () => {
    const CHATS = 12;
    const PER_CHAT = 10;
    h = await startHarness({
      time: new FakeTime(START),
      set: { "schedules.maxPerChat": 100 },
      pipeline: { claimBatchSize: 16, fireConcurrency: 4 },
    });
    const service = h.plugin.service;
    const created: Array<{ id: string; chat: string; n: number }> = [];
    // A chat's schedules one after another, so the burst reaches the pipeline with each chat's fires together.
    for (let c = 0; c < CHATS; c++) {
      for (let n = 0; n < PER_CHAT; n++) {
        h.adapter.roles.set(`chat${c}/alice`, "member");
        const s = await service.create({
          chat: { platform: "test", chatId: `chat${c}`, chatKind: "group" },
          creator: { id: "alice", name: "alice" },
          createdBy: "user",
          when: { kind: "cron", expression: "0 12 * * *" },
          commandLine: `/ping ${n}`,
          timeZone: "UTC",
        });
        created.push({ id: s.id, chat: `chat${c}`, n });
      }
    }
    // The role look-up before each run is slower for a chat's earlier fires: run side by side, a chat's later
    // fires would overtake its earlier ones here.
    let running = 0;
    let mostAtOnce = 0;
    const calls = new Map<string, number>();
    const lookUp = h.adapter.platformRoleOf.bind(h.adapter);
    h.adapter.platformRoleOf = async (chatId: string, userId: string): Promise<PlatformRole | undefined> => {
      const k = calls.get(chatId) ?? 0;
      calls.set(chatId, k + 1);
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((resolve) => setTimeout(resolve, (PER_CHAT - k) * 2));
      running--;
      return lookUp(chatId, userId);
    };
    await h.advanceTo(DUE + 1_000);

    const total = CHATS * PER_CHAT;
    expect(h.pings).toHaveLength(total);
    for (let c = 0; c < CHATS; c++) {
      const order = h.pings.filter((p) => p.chatId === `chat${c}`).map((p) => Number(p.args));
      expect(order).toEqual([...Array(PER_CHAT).keys()]);
    }
    expect(new Set(h.pings.map((p) => p.deliveryId)).size).toBe(total);
    const { pipeline } = service;
    // The first fire is claimed alone (answered at once), the rest in batches of up to 16.
    expect(pipeline.claimBatches).toBeGreaterThanOrEqual(Math.ceil((total - 1) / 16) + 1);
    expect(pipeline.claimBatches).toBeLessThan(total / 4);
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(4);

    // The next day, with answers coming back at once, the outcomes are written in batches too.
    h.adapter.platformRoleOf = lookUp;
    const recordsBefore = pipeline.recordBatches;
    await h.advanceTo(DUE + 86_400_000 + 1_000);
    expect(h.pings).toHaveLength(total * 2);
    expect(pipeline.recordBatches - recordsBefore).toBeLessThan(total / 4);
    // Every run recorded, each as ok.
    const { rows } = await h.store.sql.query<{ outcome: string; n: unknown }>(
      "SELECT outcome, count(*) AS n FROM schedule_runs GROUP BY outcome",
    );
    expect(rows.map((r) => [r.outcome, Number(r.n)])).toEqual([["ok", total * 2]]);
  });
});

describe("--spread", () => {
  it("fires a spread schedule a fixed offset after its cron time, the same every time and within a minute", async () => {
    h = await startHarness({ time: new FakeTime(START) });
    const [answer] = await h.say('/schedule add "0 * * * *" --spread --tz UTC /ping spread');
    expect(answer).toContain("spread +");
    const [plain] = await h.say('/schedule add "0 * * * *" --tz UTC /ping plain');
    expect(plain).not.toContain("spread");
    await h.advanceTo(DUE + 3 * 3_600_000 + 60_000);
    const spread = h.pings.filter((p) => p.args === "spread").map((p) => p.atMs % 3_600_000);
    const exact = h.pings.filter((p) => p.args === "plain").map((p) => p.atMs % 3_600_000);
    expect(exact).toEqual([0, 0, 0, 0]);
    expect(spread).toHaveLength(4);
    expect(new Set(spread).size).toBe(1); // the same offset every hour
    expect(spread[0]).toBeGreaterThan(0); // the hash of this schedule does not land on 0 (it could for another)
    expect(spread[0]).toBeLessThan(60_000);
    expect(spread[0]! % 1_000).toBe(0);
    // A one-shot cannot be spread.
    const [refused] = await h.say("/schedule in 10m --spread /ping");
    expect(refused).toContain("--spread is for repeating");
  });
});

describe("fires held by a lock", () => {
  it("claims a held fire again, waiting, gives it up after its tries, and lets at most `maxHeld` wait", async () => {
    const calls: Array<{ ids: string[]; retry: boolean }> = [];
    const errors: string[] = [];
    const ran: string[] = [];
    // "a" is won when claimed again; "b" and "c" stay held for good.
    const pipeline = new FirePipeline<string, string>({
      claim: async (fires, how) => {
        calls.push({ ids: fires.map((f) => f.id), retry: how.retry });
        const won = fires.filter((f) => f.id === "a" && how.retry);
        return {
          claimed: won.map((fire) => ({ fire, chatKey: fire.id, claim: fire.id })),
          held: fires.filter((f) => !won.includes(f)),
        };
      },
      run: async ({ claim }) => {
        ran.push(claim);
        return claim;
      },
      record: async () => {},
      onError: (error) => errors.push(String(error)),
      heldFirstMs: 1,
      maxHeld: 2,
    });
    const fire = (id: string): DueFire => ({ id, fireTime: 60_000, kind: "scheduled" });
    // Claimed as [a] (the first alone), then [b, c]: "a" and "b" wait, "c" is over the bound and given up at once.
    for (const id of ["a", "b", "c"]) pipeline.push(fire(id));
    await pipeline.idle();
    expect(calls.slice(0, 2)).toEqual([
      { ids: ["a"], retry: false },
      { ids: ["b", "c"], retry: false },
    ]);
    expect(ran).toEqual(["a"]);
    const triesOfB = calls.filter((c) => c.ids.includes("b"));
    expect(triesOfB).toHaveLength(1 + HELD_MAX_TRIES);
    expect(triesOfB.slice(1).every((c) => c.retry)).toBe(true);
    expect(calls.filter((c) => c.ids.includes("c"))).toHaveLength(1);
    expect(pipeline.heldLost).toBe(2);
    expect(errors.filter((e) => e.includes("schedule b's") && e.includes("stayed locked"))).toHaveLength(1);
    expect(errors.filter((e) => e.includes("schedule c's") && e.includes("already wait"))).toHaveLength(1);
  });

  it("claims the fires of a claim that failed again", async () => {
    const calls: Array<{ ids: string[]; retry: boolean }> = [];
    const ran: string[] = [];
    const pipeline = new FirePipeline<string, string>({
      claim: async (fires, how) => {
        calls.push({ ids: fires.map((f) => f.id), retry: how.retry });
        if (calls.length === 1) throw new Error("could not serialize access (injected)");
        return { claimed: fires.map((fire) => ({ fire, chatKey: fire.id, claim: fire.id })) };
      },
      run: async ({ claim }) => {
        ran.push(claim);
        return claim;
      },
      record: async () => {},
      onError: () => {},
      heldFirstMs: 1,
    });
    pipeline.push({ id: "a", fireTime: 60_000, kind: "scheduled" });
    await pipeline.idle();
    expect(calls).toEqual([
      { ids: ["a"], retry: false },
      { ids: ["a"], retry: true },
    ]);
    expect(ran).toEqual(["a"]);
    expect(pipeline.heldLost).toBe(0);
  });
});
