/**
 * The web console in Debian's Chromium (playwright-core) against a real bot on the embedded store, with the
 * schedules and LLM modules: sign-in with a single-use link (and the link refused a second time), the dashboard's
 * charts over seeded usage, a command's role changed in the permission editor and seen in the audit page and in
 * the chat, a schedule created with its next fire shown, and hostile chat titles rendered inert under the CSP.
 * Screenshots go to test/artifacts/ (git-ignored).
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLlmPlugin } from "../../../llm/index.ts";
import { LlmStore } from "../../../llm/store.ts";
import { createSchedulesPlugin } from "../../../schedules/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { artifact, chromiumAvailable, launchChromium, type TestBrowser } from "../../helpers/browser.ts";
import { seedModelStats } from "../../helpers/model-stats.ts";

const isChromiumThere = chromiumAvailable();
const DAY_MS = 86_400_000;
const HOSTILE_TITLE = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;
const JS_TITLE = "javascript:window.__pwned=3";
const UI_TIMEOUT_MS = 30_000;

describe.skipIf(!isChromiumThere)("web console in Chromium", () => {
  let bot: TestBot;
  let base: string;
  let chromium: TestBrowser;
  let page: Page;
  const violations: string[] = [];
  const pageErrors: string[] = [];

  const link = async (userKey: string) =>
    (await bot.app.admin.signInLink({ userKey, displayName: userKey.split(":")[1]! })).url;

  beforeAll(async () => {
    bot = await startTestBot({
      set: {
        "bot.owners": ["test:owner"],
        "llm.models": [
          { name: "main", provider: "openai", model: "stand", baseUrl: "http://127.0.0.1:9/v1", apiKey: "k" },
        ],
      },
      plugins: [(core) => createSchedulesPlugin(core), (core) => createLlmPlugin(core)],
    });
    base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
    const { store, permissions } = bot.app.core;
    const now = Date.now();
    await store.chats.touch("test:A", { kind: "group", title: "Ops room" }, now);
    await store.chats.touch("test:X", { kind: "group", title: HOSTILE_TITLE }, now);
    await store.chats.touch("test:J", { kind: "group", title: JS_TITLE }, now);
    await permissions.updatePolicy("test:A", { actor: "test:owner", action: "perms.role" }, (p) => {
      p.roleOverrides["test:alice"] = "admin";
    });
    // 30 days of usage (through the LLM store's own write) and of messages per platform, as the bot writes them.
    for (let i = 0; i < 30; i++) {
      const day = new Date(now - i * DAY_MS).toISOString().slice(0, 10);
      await new LlmStore(store.sql).addUsage({
        day,
        chatKey: "test:A",
        userKey: "test:alice",
        inputTokens: 1_000 + 37 * i,
        outputTokens: 400 + 11 * i,
        cost: 0.02 + i / 1_000,
      });
      for (const [platform, n] of [
        ["telegram", 120 + ((i * 17) % 40)],
        ["slack", 60 + ((i * 7) % 25)],
      ] as const)
        await store.sql.query(
          "INSERT INTO message_counts (day, platform, messages_in, messages_out) VALUES ($1, $2, $3, $4)",
          [day, platform, n, n - 10],
        );
    }
    for (const [name, n] of [
      ["status", 42],
      ["deploy", 31],
      ["whoami", 12],
    ] as const)
      await store.sql.query(
        "INSERT INTO activity_daily (day, kind, platform, name, count) VALUES ($1, 'command', 'slack', $2, $3)",
        [new Date(now).toISOString().slice(0, 10), name, n],
      );
    for (const [name, n] of [
      ["remind", 17],
      ["dice", 9],
    ] as const)
      await store.sql.query(
        "INSERT INTO activity_daily (day, kind, platform, name, count) VALUES ($1, 'skill', 'slack', $2, $3)",
        [new Date(now).toISOString().slice(0, 10), name, n],
      );
    // Model calls of the stats window and a vote on a turn, for the Models page.
    const llmStore = new LlmStore(store.sql);
    const turn = await seedModelStats(llmStore, {
      now,
      chatKey: "test:A",
      userKey: "test:alice",
      perCall: { inputTokens: 10, outputTokens: 5, cost: 0.01 },
    });
    await llmStore.setFeedback(turn, "test:A", { value: 1, by: "test:alice", at: now });
    await store.sql.query("INSERT INTO activity_errors (at, code) VALUES ($1, 'E_RATE_LIMITED'), ($2, 'E_TIMEOUT')", [
      now - 3_600_000,
      now - 7_200_000,
    ]);
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.exposeFunction("reportViolation", (v: string) => violations.push(v));
    // Scripts run in the page are strings: this project's TypeScript has no DOM library.
    await page.addInitScript(
      "document.addEventListener('securitypolicyviolation', (e) => reportViolation(e.violatedDirective + ' ' + e.blockedURI))",
    );
    await page.goto(await link("test:owner"));
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  }, 180_000);

  afterEach(async (context) => {
    // What the page showed when a step failed, next to the other screenshots.
    if (context.task.result?.state === "fail" && pageErrors.length > 0) console.error("page errors:", pageErrors);
    if (context.task.result?.state === "fail" && page !== undefined)
      await page
        .screenshot({ path: artifact(`failed-${context.task.name.slice(0, 40).replace(/\W+/g, "-")}.png`) })
        .catch(() => undefined);
  });

  afterAll(async () => {
    await chromium?.close();
    await bot?.stop();
  });

  it("signs in with a single-use link, and refuses the same link a second time", async () => {
    const url = await link("test:owner");
    expect(url.startsWith(`${base}/console/sign-in#code=`)).toBe(true);
    await page.goto(url);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    expect(new URL(page.url()).hash).toBe("");

    const other = await chromium.context.newPage();
    await chromium.context.clearCookies();
    await other.goto(url);
    await other.getByRole("alert").getByText("This sign-in link cannot be used").waitFor();
    await other.screenshot({ path: artifact("sign-in-refused.png") });
    await other.goto(`${base}/console/`);
    await other.getByText("You are not signed in").waitFor();
    await other.close();

    await page.goto(await link("test:owner"));
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  });

  it("draws the dashboard's charts over seeded usage", async () => {
    // Real messages through the test adapter are counted too, once the counts are written.
    await bot.adapter.say("/whoami", { chatId: "A", userId: "alice" });
    await bot.app.core.router.drain();
    await page.goto(`${base}/console/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.locator(".chart canvas").nth(2).waitFor();
    const charts = await page.locator(".chart").evaluateAll((figures) =>
      figures.map((f) => {
        const canvas = f.querySelector("canvas");
        if (canvas === null) return { caption: f.querySelector("figcaption")?.textContent, drawn: 0 };
        const ctx = canvas.getContext("2d")!;
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let drawn = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) drawn++;
        return { caption: f.querySelector("figcaption")?.textContent, drawn, width: canvas.width };
      }),
    );
    expect(charts.map((c) => c.caption)).toEqual(["Messages per platform", "LLM tokens per day", "LLM cost per day"]);
    for (const c of charts) expect(c.drawn, `${c.caption} has drawn pixels`).toBeGreaterThan(500);
    expect(await page.locator(".u-legend").first().textContent()).toContain("telegram");
    expect(await page.locator(".tiles").textContent()).toMatch(/messages/);
    expect(await page.locator("#commands-h ~ .ranking li").allTextContents()).toEqual([
      "/status 42",
      "/deploy 31",
      "/whoami 12",
    ]);
    expect(await page.locator("#skills-h ~ .ranking li").allTextContents()).toEqual(["remind 17", "dice 9"]);
    // The export link downloads with the page's session: the same figures as the chart, as CSV.
    const csvHref = (await page.getByRole("link", { name: "CSV" }).getAttribute("href"))!;
    expect(csvHref).toMatch(/^\/api\/usage\/export\?groupBy=day&from=.*&format=csv$/);
    const csv = (await page.evaluate(`fetch(${JSON.stringify(csvHref)}).then((r) => r.text())`)) as string;
    expect(csv.split("\r\n")[0]).toBe("day,inputTokens,outputTokens,cost,count");
    expect(csv.trim().split("\r\n")).toHaveLength(31);
    const web = page.locator("#adapters-h ~ table").getByRole("row").filter({ hasText: "web" });
    expect(await web.getByRole("cell").first().textContent()).toMatch(/^up/);
    expect(await page.locator(".errors li code").allTextContents()).toEqual(["E_RATE_LIMITED", "E_TIMEOUT"]);
    await page.screenshot({ path: artifact("dashboard.png"), fullPage: true });

    const phone = await chromium.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/console/`);
    await phone.locator(".chart canvas").nth(2).waitFor();
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: artifact("dashboard-phone.png"), fullPage: true });
    await phone.close();
  });

  it("changes a command's role in the permission editor, and the audit page and the chat both show it", async () => {
    await bot.adapter.say("/whoami", { chatId: "A", userId: "bob" });
    await bot.app.core.router.drain();
    expect(bot.adapter.sent.at(-1)?.text).toContain("test:bob");

    await page.goto(`${base}/console/chats`);
    await page.getByLabel("Chat", { exact: true }).selectOption("test:A");
    await page.locator("main h2 + p").getByText("test:A").waitFor();
    await page.getByLabel("Command", { exact: true }).fill("whoami");
    await page.getByLabel("Role", { exact: true }).selectOption("admin");
    await page.getByRole("button", { name: "Set role" }).click();
    await page.getByRole("button", { name: "Save permissions" }).click();
    await page.getByText("Saved.").waitFor();
    await page
      .getByRole("cell", { name: /"whoami":"admin"/ })
      .first()
      .waitFor();
    const alice = page.locator("#members-h ~ table").getByRole("row").filter({ hasText: "test:alice" });
    expect(await alice.getByRole("cell").first().textContent()).toBe("admin");
    await page.screenshot({ path: artifact("chats.png"), fullPage: true });

    await page.goto(`${base}/console/audit`);
    await page.getByLabel("Chat").fill("test:A");
    await page.getByRole("button", { name: "Show" }).click();
    const row = page.getByRole("row").filter({ hasText: '"whoami":"admin"' }).first();
    await row.waitFor();
    expect(await row.textContent()).toContain("web");
    const exported = await page.getByRole("link", { name: "CSV" }).getAttribute("href");
    expect(exported).toBe("/api/audit/export?chatKey=test%3AA&format=csv");
    await page.screenshot({ path: artifact("audit.png"), fullPage: true });

    const before = bot.adapter.sent.length;
    await bot.adapter.say("/whoami", { chatId: "A", userId: "bob" });
    await bot.app.core.router.drain();
    const denied = bot.adapter.sent.slice(before).map((s) => s.text);
    expect(denied.join("\n")).toMatch(/admin/);
    expect(denied.join("\n")).not.toContain("test:bob");
  });

  it("sets who may write in a DM on the bot-wide policy, and a DM is then answered by it", async () => {
    await page.goto(`${base}/console/chats`);
    await page.getByLabel("Chat", { exact: true }).selectOption("*");
    await page.getByRole("heading", { name: "Bot-wide policy" }).waitFor();
    await page.getByLabel("Direct messages").selectOption("closed");
    await page.getByRole("button", { name: "Save permissions" }).click();
    await page.getByText("Saved.").waitFor();
    await page
      .getByRole("cell", { name: /"dm":"closed"/ })
      .first()
      .waitFor();
    await page.screenshot({ path: artifact("chats-bot-wide.png"), fullPage: true });
    const dm = { chatId: "dm-frank", userId: "frank", chatKind: "dm" as const };
    try {
      await bot.adapter.say("/whoami", dm);
      await bot.app.core.router.drain();
      expect(bot.adapter.textsIn("dm-frank").join("\n")).not.toContain("test:frank");
    } finally {
      await page.getByLabel("Direct messages").selectOption("open");
      await page.getByRole("button", { name: "Save permissions" }).click();
      await page
        .getByRole("cell", { name: /"dm":"open"/ })
        .first()
        .waitFor();
    }
    await bot.adapter.say("/whoami", dm);
    await bot.app.core.router.drain();
    expect(bot.adapter.textsIn("dm-frank").at(-1)).toContain("test:frank");
  });

  it("creates a schedule from the form, previewing the cron text in words, and lists its next fire", async () => {
    await page.goto(`${base}/console/schedules`);
    await page.getByLabel("Chat", { exact: true }).selectOption("test:A");
    await page.getByLabel("Cron").fill("30 6 * * *");
    await page.getByLabel("Time zone").fill("Asia/Tokyo");
    await page.locator(".cron-words").getByText("At 06:30").waitFor();
    await page.getByLabel("Command line (runs as you)").fill("/whoami");
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.getByText("Created.").waitFor();
    const row = page.getByRole("row").filter({ hasText: "/whoami" }).first();
    await row.waitFor();
    const nextFire = (await row.locator(".next-fire").textContent()) ?? "";
    expect(nextFire).toMatch(/06:30/);
    expect(nextFire).toMatch(/GMT\+9/);
    await page.screenshot({ path: artifact("schedules.png"), fullPage: true });
    await row.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("status").getByText("/whoami in test:A: paused.").waitFor();
    await page.getByRole("row").filter({ hasText: "/whoami" }).getByRole("button", { name: "Resume" }).waitFor();
  });

  it("lists each model with its statistics and cooldown state", async () => {
    await page.goto(`${base}/console/models`);
    const row = page.getByRole("row").filter({ hasText: "openai · stand" });
    await row.waitFor();
    const cells = async () => (await row.getByRole("cell").allTextContents()).map((c) => c.trim());
    // Calls, failures by kind, p50 / p95 of the successful ones, tokens, cost, feedback, state.
    expect(await cells()).toEqual([
      "3",
      "timeout 1",
      "200 ms / 290 ms",
      "20 / 10",
      "$0.0200",
      "1 up · 0 down",
      "ready",
    ]);
    await page.screenshot({ path: artifact("models.png"), fullPage: true });

    // A message the model cannot answer (its port is closed) leaves it cooling down, and the page says so.
    await bot.adapter.say("hello", { chatId: "dm-alice", userId: "alice", chatKind: "dm" });
    await bot.app.core.router.drain();
    // The cooldown is written as the turn ends, which a loaded machine may delay: reload until it shows.
    await expect
      .poll(
        async () => {
          await page.reload();
          await row.waitFor();
          return row.getByText(/cooling down \(network\) until/).count();
        },
        { timeout: UI_TIMEOUT_MS, interval: 500 },
      )
      .toBe(1);
    expect((await cells())[1]).toMatch(/network \d+/);
  });

  it("is usable from the keyboard: a skip link to the content, then the navigation", async () => {
    await page.goto(`${base}/console/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to content");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Dashboard");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Audit");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Audit log" }).waitFor();
    expect(await page.evaluate("document.activeElement.id")).toBe("main");
  });

  it("renders chat titles with <script> and javascript: as text, under a strict Content-Security-Policy", async () => {
    const res = await fetch(`${base}/console/chats`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");

    await page.goto(`${base}/console/chats`);
    await page.locator('#chat-select option[value="test:J"]').waitFor({ state: "attached" });
    const options = await page.getByLabel("Chat", { exact: true }).locator("option").allTextContents();
    expect(options).toContain(`${HOSTILE_TITLE} (test:X)`);
    expect(options).toContain(`${JS_TITLE} (test:J)`);
    await page.getByLabel("Chat", { exact: true }).selectOption("test:X");
    await page.getByRole("heading", { name: HOSTILE_TITLE }).waitFor();
    expect(await page.locator("main script, main img").count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    // The console itself runs under its policy without a single violation, and without an error.
    expect(violations).toEqual([]);
    expect(pageErrors).toEqual([]);
    // And the policy holds: an inline script put into the page does not run.
    await page.evaluate(
      "{ const s = document.createElement('script'); s.textContent = 'window.__pwned = 4'; document.body.append(s); }",
    );
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    // The violation report reaches the test through an exposed function, asynchronously.
    await expect.poll(() => violations.some((v) => v.startsWith("script-src")), { timeout: UI_TIMEOUT_MS }).toBe(true);
  });

  it("shows a chat admin the LLM usage of their chats, and no bot-wide figures", async () => {
    await page.goto(await link("test:alice"));
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByText("bot-wide figures, shown to bot owners").waitFor();
    await page.locator(".chart canvas").nth(1).waitFor();
    expect(await page.locator(".tiles").textContent()).toContain("62,880");
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.getByRole("link", { name: "Chats" }).click();
    await page.locator('#chat-select option[value="test:A"]').waitFor({ state: "attached" });
    expect(await page.locator("#chat-select option").count()).toBe(1);
  });
});
