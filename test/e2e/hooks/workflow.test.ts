/**
 * The workflow round trip through Telegram and a stand-in workflow server: an admin registers a workflow in a
 * forum topic (its secret arrives in a DM), `/workflow run` posts a signed payload and shows progress in one
 * message, edited as it goes; the workflow's signed answers at its callback URL edit that message, and the final
 * one lands in the same chat and topic.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowStandIn } from "../../stand-ins/workflow/server.ts";
import { type HooksBot, startHooksBot } from "./bot.ts";

const GROUP = -100_300;
const TOPIC = 77;
const ADMIN = 5_151;

describe("workflow triggers through Telegram", { timeout: 60_000 }, () => {
  let bot: HooksBot;
  let workflow: WorkflowStandIn;
  const inTopic = () => bot.standIn.messagesIn(GROUP).filter((m) => m.threadId === TOPIC);

  beforeAll(async () => {
    workflow = await WorkflowStandIn.start();
    bot = await startHooksBot({ "bot.owners": [`telegram:${ADMIN}`] });
  });
  afterAll(async () => {
    await bot?.stop();
    await workflow?.close();
  });

  it("runs a workflow with a signed payload and brings its answer back to the same topic", async () => {
    const { standIn } = bot;
    standIn.queueMessage({
      chatId: GROUP,
      chatType: "supergroup",
      userId: ADMIN,
      threadId: TOPIC,
      text: `/workflow add deploy ${workflow.url}`,
    });
    await standIn.waitFor(() => standIn.messagesIn(ADMIN).length > 0, 10_000, "the workflow secret in a DM");
    workflow.secret = /shown this once:\n(\S+)/.exec(standIn.messagesIn(ADMIN)[0]!.text)![1]!;
    await standIn.waitFor(() => inTopic().length > 0, 10_000, "the answer in the topic");

    const before = inTopic().length;
    standIn.queueMessage({
      chatId: GROUP,
      chatType: "supergroup",
      userId: ADMIN,
      threadId: TOPIC,
      text: "/workflow run deploy api v2",
    });
    await standIn.waitFor(() => workflow.runs.length === 1, 10_000, "the run request");
    const run = workflow.runs[0]!;
    expect(run.isSigned).toBe(true);
    expect(run.body).toMatchObject({
      workflow: "deploy",
      args: ["api", "v2"],
      chat: { platform: "telegram", chatId: String(GROUP), threadId: String(TOPIC) },
      user: `telegram:${ADMIN}`,
    });
    expect(run.body.callback.runId).toBe(run.body.runId);
    expect(run.headers["x-switchboard-run-id"]).toBe(run.body.runId);
    await standIn.waitFor(
      () => inTopic().some((m) => m.text.includes("waiting for its answer")),
      10_000,
      "the progress message edited to started",
    );
    const progress = inTopic().at(-1)!;
    expect(progress.history[0]).toContain("starting");
    expect(inTopic().length).toBe(before + 1);

    expect(await workflow.answer(run, { status: "running", text: "building", origin: bot.httpUrl })).toBe(202);
    await standIn.waitFor(() => progress.text.includes("building"), 10_000, "the progress edited by the answer");
    expect(await workflow.answer(run, { status: "succeeded", text: "deployed api v2", origin: bot.httpUrl })).toBe(202);
    await standIn.waitFor(() => inTopic().some((m) => m.text.includes("deployed api v2")), 10_000, "the final answer");
    const final = inTopic().find((m) => m.text.includes("deployed api v2"))!;
    expect(final.threadId).toBe(TOPIC);
    expect(final.text).toContain("deploy: succeeded");
  });

  it("refuses an answer signed with another secret, posting nothing", async () => {
    const run = workflow.runs[0]!;
    const right = workflow.secret;
    workflow.secret = "not-the-secret";
    try {
      expect(await workflow.answer(run, { status: "succeeded", text: "forged", origin: bot.httpUrl })).toBe(401);
    } finally {
      workflow.secret = right;
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(bot.standIn.messagesIn(GROUP).some((m) => m.text.includes("forged"))).toBe(false);
  });

  it("says so when the workflow refuses the run", async () => {
    workflow.status = 500;
    const { standIn } = bot;
    standIn.queueMessage({
      chatId: GROUP,
      chatType: "supergroup",
      userId: ADMIN,
      threadId: TOPIC,
      text: "/workflow run deploy",
    });
    await standIn.waitFor(
      () => inTopic().some((m) => m.text.includes("refused the run (HTTP 500)")),
      10_000,
      "the refusal",
    );
    workflow.status = 202;
  });

  it("removes a workflow once confirmed, audited with what it pointed at", async () => {
    const { standIn } = bot;
    const say = (text: string) =>
      standIn.queueMessage({ chatId: GROUP, chatType: "supergroup", userId: ADMIN, threadId: TOPIC, text });
    let n = inTopic().length;
    say("/workflow remove deploy");
    await standIn.waitFor(() => inTopic().length > n, 10_000, "the confirmation request");
    expect(inTopic()[n]!.text).toContain("/confirm");
    say("/confirm");
    await standIn.waitFor(
      () => inTopic().some((m) => m.text.includes("Workflow deploy is removed.")),
      10_000,
      "removal",
    );
    const [entry] = await bot.app.core.store.audit.list(`telegram:${GROUP}`, { action: "workflow.remove" });
    expect(entry).toMatchObject({ target: "deploy", before: { url: workflow.url }, after: null });
    n = inTopic().length;
    say("/audit");
    await standIn.waitFor(() => inTopic().length > n, 10_000, "the audit log");
    expect(inTopic()[n]!.text).toContain(`workflow.remove deploy: {"url":"${workflow.url}"} → (none)`);
  });
});
