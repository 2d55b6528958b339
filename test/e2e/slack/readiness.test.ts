/** `/readyz` is 503, naming Slack, while the Slack Web API cannot be reached (replies cannot go out). */
import { afterAll, describe, expect, it } from "vitest";
import { startSlackBot, type SlackBot } from "./harness.ts";

describe("Slack readiness", () => {
  let h: SlackBot | undefined;
  afterAll(async () => {
    await h?.stop();
  });

  it("goes 503 with the reason when a Web API call gets no answer", async () => {
    h = await startSlackBot();
    const { port } = h.app.httpAddress()!;
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: (await res.json()) as { reasons: string[] } };
    };
    expect((await readyz()).status).toBe(200);
    await h.slack.stop(); // the Web API is gone
    await h.adapter.send({ platform: "slack", chatId: "C0READY01" }, { text: "lost?" }).catch(() => undefined);
    const after = await readyz();
    expect(after.status).toBe(503);
    expect(after.body.reasons.join("; ")).toMatch(/slack cannot reach its API \(chat\.postMessage/);
  }, 120_000);
});
