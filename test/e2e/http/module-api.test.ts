/**
 * The schedules and LLM modules' routes on the admin API, on the embedded store and on PostgreSQL when it answers
 * (always under `CI=true`), in a fresh schema dropped afterwards: the `/schedule` and `/ai` permission rules
 * applied as the signed-in person, audited changes, usage from the daily aggregates scoped to the person's chats,
 * CSV and JSON export, model statistics.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { createLlmPlugin, type LlmPlugin } from "../../../llm/index.ts";
import { createSchedulesPlugin } from "../../../schedules/index.ts";
import type { HttpListener } from "../../../bot/http/listener.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { serviceAvailable } from "../../helpers/services.ts";
import { defineOnEachStore } from "../../helpers/stores.ts";
import { seedModelStats } from "../../helpers/model-stats.ts";

const isPostgresUp = await serviceAvailable("postgres");

interface Session {
  cookie: string;
  csrf: string;
}

function defineSuite(name: string, openStoreFn: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(`module routes on the admin API on ${name}`, () => {
    let bot: TestBot;
    let base: string;
    let llm: LlmPlugin;
    let alice: Session;
    let bob: Session;
    let owner: Session;

    const signIn = async (userKey: string): Promise<Session> => {
      const { url } = await bot.app.admin.signInLink({ userKey, displayName: userKey.split(":")[1]! });
      const res = await fetch(`${base}/api/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: new URL(url).hash.slice(6) }),
      });
      expect(res.status).toBe(200);
      return {
        cookie: res.headers.get("set-cookie")!.split(";")[0]!,
        csrf: ((await res.json()) as { csrfToken: string }).csrfToken,
      };
    };
    const call = async (request: string, s: Session, body?: unknown) => {
      const [method, path] = request.split(" ") as [string, string];
      return fetch(`${base}${path}`, {
        method,
        headers: {
          cookie: s.cookie,
          "x-csrf-token": s.csrf,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    };

    beforeAll(async () => {
      bot = await startTestBot({
        store: await openStoreFn(),
        set: {
          "bot.owners": ["test:owner"],
          "llm.models": [
            { name: "main", provider: "openai", model: "stand", baseUrl: "http://127.0.0.1:9/v1", apiKey: "k" },
          ],
        },
        plugins: [(core) => createSchedulesPlugin(core), async (core) => (llm = await createLlmPlugin(core))],
      });
      base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
      const { store, permissions } = bot.app.core;
      for (const id of ["A", "B"]) await store.chats.touch(`test:${id}`, { kind: "group", title: id }, Date.now());
      await permissions.updatePolicy("test:A", { actor: "test:owner", action: "perms.role" }, (p) => {
        p.roleOverrides["test:alice"] = "admin";
        p.roleOverrides["test:bob"] = "member";
      });
      await permissions.updatePolicy("test:B", { actor: "test:owner", action: "perms.role" }, (p) => {
        p.roleOverrides["test:carol"] = "admin";
      });
      [alice, bob, owner] = [await signIn("test:alice"), await signIn("test:bob"), await signIn("test:owner")];
    }, 120_000);
    afterAll(async () => {
      await bot?.stop();
      await bot?.app.core.store.close();
      await cleanup();
    });

    it("creates a schedule as the signed-in person, lists it with its next fire in words, and audits it", async () => {
      const created = await call("POST /api/schedules", alice, {
        chatKey: "test:A",
        cron: "0 9 * * 1-5",
        commandLine: "/whoami",
        timeZone: "Europe/Berlin",
      });
      expect(created.status).toBe(201);
      const { schedule } = (await created.json()) as {
        schedule: { id: string; description: string; nextFireAt: number; creator: { userKey: string } };
      };
      expect(schedule.description).toBe("At 09:00, Monday through Friday");
      expect(schedule.creator.userKey).toBe("test:alice");
      expect(schedule.nextFireAt).toBeGreaterThan(Date.now());
      const listed = (await (await call("GET /api/schedules?chatKey=test:A", bob)).json()) as {
        schedules: { id: string }[];
      };
      expect(listed.schedules.map((s) => s.id)).toEqual([schedule.id]);
      expect((await call("GET /api/schedules?chatKey=test:B", alice)).status).toBe(403);
      const audit = await bot.app.core.store.audit.list("test:A", { action: "schedules.create" });
      expect(audit[0]).toMatchObject({ actor: "test:alice", via: "web", target: schedule.id });

      // Someone else's schedule: a member may not pause it, its creator may.
      const denied = await call(`POST /api/schedules/${schedule.id}/pause`, bob, {});
      expect(denied.status).toBe(403);
      const paused = await call(`POST /api/schedules/${schedule.id}/pause`, alice, {});
      expect(paused.status).toBe(200);
      expect(((await paused.json()) as { schedule: { state: string; nextFireAt: unknown } }).schedule).toMatchObject({
        state: "paused",
        nextFireAt: null,
      });
      const transitions = await bot.app.core.store.audit.list("test:A", { action: "schedules.pause" });
      expect(transitions[0]).toMatchObject({ before: { state: "active" }, after: { state: "paused" } });
      expect((await call(`GET /api/schedules/${schedule.id}/runs`, alice)).status).toBe(200);
      expect((await call(`DELETE /api/schedules/${schedule.id}`, alice, {})).status).toBe(200);
      expect((await call(`DELETE /api/schedules/${schedule.id}`, alice, {})).status).toBe(404);
    });

    it("resumes a paused schedule from its next time, audited, and shows a fired one's run history", async () => {
      const created = await call("POST /api/schedules", alice, {
        chatKey: "test:A",
        cron: "0 9 * * *",
        commandLine: "/whoami",
        timeZone: "UTC",
      });
      const { schedule } = (await created.json()) as { schedule: { id: string } };
      expect((await call(`POST /api/schedules/${schedule.id}/pause`, alice, {})).status).toBe(200);
      const resumed = await call(`POST /api/schedules/${schedule.id}/resume`, alice, {});
      expect(resumed.status).toBe(200);
      const after = ((await resumed.json()) as { schedule: { state: string; nextFireAt: number } }).schedule;
      expect(after.state).toBe("active");
      expect(new Date(after.nextFireAt).toISOString()).toMatch(/T09:00:00\.000Z$/);
      const audit = await bot.app.core.store.audit.list("test:A", { action: "schedules.resume" });
      expect(audit[0]).toMatchObject({ actor: "test:alice", via: "web", before: { state: "paused" } });
      expect((await call(`DELETE /api/schedules/${schedule.id}`, alice, {})).status).toBe(200);

      // A schedule due in a moment fires through the router as alice; its run is listed with its outcome.
      const once = await call("POST /api/schedules", alice, {
        chatKey: "test:A",
        runAt: Date.now() + 1_000,
        commandLine: "/whoami",
      });
      expect(once.status).toBe(201);
      const { schedule: due } = (await once.json()) as { schedule: { id: string; description: string } };
      expect(due.description).toBe("once");
      const runs = async () =>
        ((await (await call(`GET /api/schedules/${due.id}/runs`, bob)).json()) as { runs: { outcome: string }[] }).runs;
      await expect
        .poll(async () => (await runs()).map((r) => r.outcome), { timeout: 30_000, interval: 250 })
        .toEqual(["ok"]);
      expect((await runs())[0]).toMatchObject({ kind: "scheduled", outcome: "ok" });
      expect(bot.adapter.textsIn("A").join("\n")).toContain("test:alice");
    });

    it("refuses a schedule in another platform's chat, and a cron expression that is not one", async () => {
      expect(
        (await call("POST /api/schedules", owner, { chatKey: "slack:C1", cron: "0 9 * * *", commandLine: "/whoami" }))
          .status,
      ).toBe(400);
      const bad = await call("POST /api/schedules", alice, {
        chatKey: "test:A",
        cron: "every day",
        commandLine: "/whoami",
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe("E_SCHEDULE_INVALID");
    });

    it("previews an expression in words with its next fires", async () => {
      const res = await call("GET /api/schedules/preview?cron=*/15%209-17%20*%20*%201-5&timeZone=UTC&count=3", alice);
      const body = (await res.json()) as { description: string; nextFires: number[] };
      expect(body.description).toMatch(/Every 15 minutes, between 09:00 and 17:59, Monday through Friday/);
      expect(body.nextFires).toHaveLength(3);
      expect(body.nextFires[1]! - body.nextFires[0]!).toBeGreaterThanOrEqual(15 * 60_000);
    });

    it("shows usage of the person's own chats only, by chat, user and day, and exports it as CSV", async () => {
      const { store } = llm.service;
      const rows = [
        { day: "2026-11-01", chatKey: "test:A", userKey: "test:alice", inputTokens: 100, outputTokens: 50, cost: 0.5 },
        { day: "2026-11-02", chatKey: "test:A", userKey: "test:bob", inputTokens: 10, outputTokens: 5, cost: 0.05 },
        { day: "2026-11-02", chatKey: "test:B", userKey: "test:carol", inputTokens: 1000, outputTokens: 500, cost: 5 },
      ];
      for (const r of rows) await store.addUsage(r);
      const query = "from=2026-11-01&to=2026-11-30";
      const byChat = (await (await call(`GET /api/usage?${query}&groupBy=chat`, alice)).json()) as {
        rows: { chatKey: string; cost: number; count: number }[];
      };
      expect(byChat.rows).toEqual([{ chatKey: "test:A", inputTokens: 110, outputTokens: 55, cost: 0.55, count: 2 }]);
      const everyone = (await (await call(`GET /api/usage?${query}&groupBy=chat`, owner)).json()) as {
        rows: { chatKey: string }[];
      };
      expect(everyone.rows.map((r) => r.chatKey)).toEqual(["test:B", "test:A"]);
      const byDay = (await (await call(`GET /api/usage?${query}&groupBy=day`, owner)).json()) as {
        rows: { day: string; cost: number }[];
      };
      expect(byDay.rows.map((r) => [r.day, r.cost])).toEqual([
        ["2026-11-01", 0.5],
        ["2026-11-02", 5.05],
      ]);
      expect((await call(`GET /api/usage?${query}&chatKey=test:B`, alice)).status).toBe(403);
      const csv = await call(`GET /api/usage/export?${query}&groupBy=user&format=csv`, alice);
      expect((await csv.text()).split("\r\n")).toEqual([
        "userKey,inputTokens,outputTokens,cost,count",
        "test:alice,100,50,0.5,1",
        "test:bob,10,5,0.05,1",
        "",
      ]);
      const json = await call(`GET /api/usage/export?${query}&groupBy=day&format=json`, alice);
      expect(json.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await json.json()).toEqual([
        { day: "2026-11-01", inputTokens: 100, outputTokens: 50, cost: 0.5, count: 1 },
        { day: "2026-11-02", inputTokens: 10, outputTokens: 5, cost: 0.05, count: 1 },
      ]);
    });

    it("shows model usage by day and model statistics to those who may run /models", async () => {
      const day = Date.parse("2026-11-03T12:00:00Z");
      await llm.service.store.recordCalls([
        { model: "main", at: day, ok: true, latencyMs: 100, inputTokens: 10, outputTokens: 20, cost: 0.1 },
        {
          model: "main",
          at: day + 1,
          ok: false,
          kind: "timeout",
          latencyMs: 5_000,
          inputTokens: 0,
          outputTokens: 0,
          cost: 0,
        },
      ]);
      const byModel = (await (
        await call("GET /api/usage?from=2026-11-01&to=2026-11-30&groupBy=day-model", owner)
      ).json()) as {
        rows: unknown[];
      };
      expect(byModel.rows).toEqual([
        { day: "2026-11-03", model: "main", inputTokens: 10, outputTokens: 20, cost: 0.1, count: 2 },
      ]);
      const models = (await (await call("GET /api/models", owner)).json()) as {
        models: { name: string; cooldown: unknown }[];
      };
      expect(models.models.map((m) => m.name)).toEqual(["main"]);
      expect(models.models[0]!.cooldown).toBeNull();
      expect((await call("GET /api/models", bob)).status).toBe(403);

      // Calls of the stats window, a vote on a turn, and a real call to the model's closed port: the figures and
      // the cooldown it leaves are what /api/models shows.
      const now = Date.now();
      const turn = await seedModelStats(llm.service.store, {
        now,
        chatKey: "test:B",
        userKey: "test:carol",
        perCall: { inputTokens: 1, outputTokens: 2, cost: 0 },
      });
      expect(await llm.service.store.setFeedback(turn, "test:B", { value: 1, by: "test:carol", at: now })).toBe(true);
      await bot.adapter.say("hello", { chatId: "dm-alice", userId: "alice", chatKind: "dm" });
      await bot.app.core.router.drain();
      const read = async () =>
        (
          (await (await call("GET /api/models", owner)).json()) as {
            models: {
              calls: number;
              failures: Record<string, number>;
              p50Ms: number;
              p95Ms: number;
              thumbsUp: number;
              cooldown: { kind: string; untilMs: number } | null;
            }[];
          }
        ).models[0]!;
      // The failed call's record and cooldown are written as the turn ends, which a loaded machine may delay.
      await expect.poll(async () => (await read()).cooldown?.kind, { timeout: 20_000, interval: 250 }).toBe("network");
      const stats = await read();
      expect(stats.calls).toBeGreaterThanOrEqual(4);
      expect(stats.failures.timeout).toBe(1);
      expect(stats.failures.network).toBeGreaterThanOrEqual(1);
      expect([stats.p50Ms, stats.p95Ms]).toEqual([200, 290]);
      expect(stats.thumbsUp).toBe(1);
      expect(stats.cooldown?.kind).toBe("network");
      expect(stats.cooldown!.untilMs).toBeGreaterThan(Date.now());
    });

    it("exports a chat's conversations as chat-format JSONL to bot owners only", async () => {
      await llm.service.store.appendTurn({
        conversation: "test:A",
        chatKey: "test:A",
        userKey: "test:alice",
        at: Date.now(),
        model: "main",
        systemPrompt: "Be brief.",
        messages: [
          { role: "user", content: "<script>alert(1)</script> hi" },
          { role: "assistant", content: "hello" },
        ],
        tokens: 10,
        inputTokens: 5,
        outputTokens: 5,
        cost: 0,
      });
      expect((await call("GET /api/chats/test:A/conversations/export", alice)).status).toBe(403);
      const res = await call("GET /api/chats/test:A/conversations/export", owner);
      expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const lines = (await res.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { messages: { role: string }[] });
      expect(lines).toHaveLength(1);
      expect(lines[0]!.messages.map((m) => m.role)).toEqual(["system", "user", "assistant"]);
    });

    it("documents every declared route in /api/openapi.json, derived from the same declarations", async () => {
      const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { summary?: string }>>;
      };
      const routes = (bot.app.core.http as HttpListener).apiRoutes();
      expect(routes.length).toBeGreaterThan(25);
      for (const route of routes) {
        const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
        expect(doc.paths[path]?.[route.method.toLowerCase()]?.summary, `${route.method} ${route.url}`).toBe(
          route.summary,
        );
      }
    });
  });
}

defineOnEachStore(defineSuite, isPostgresUp);
