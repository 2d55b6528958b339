/** Edits of long replies: the first message is updated, extra pieces are posted, kept in step, and deleted. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSlackAdapter } from "../../stand-ins/slack/harness.ts";

describe("Slack edits of long replies", () => {
  let h: Awaited<ReturnType<typeof startSlackAdapter>>;
  beforeAll(async () => {
    h = await startSlackAdapter({ editIntervalMs: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  const para = (tag: string) =>
    Array.from({ length: 60 }, (_, i) => `${tag} line ${i} with some words in it`).join("\n");

  it("grows a reply into extra messages, updates only what changed, and deletes what it no longer needs", async () => {
    const sent = await h.adapter.send(
      { platform: "slack", chatId: "CEDIT0001", threadId: "1700003000.000001" },
      { text: "working…" },
    );
    const long = `${para("a")}\n${para("b")}\n${para("c")}`;
    await h.adapter.edit(sent, { text: long });
    const inChannel = () => h.standIn.messagesIn("CEDIT0001");
    expect(inChannel().length).toBeGreaterThanOrEqual(2);
    expect(
      inChannel()
        .map((m) => m.text)
        .join("\n"),
    ).toBe(long);
    expect(inChannel().every((m) => m.threadTs === "1700003000.000001" && m.text.length <= 4_000)).toBe(true);

    const updatesBefore = h.standIn.callsOf("chat.update").length;
    const changedHead = long.replace("a line 0", "A line 0");
    await h.adapter.edit(sent, { text: changedHead });
    expect(h.standIn.callsOf("chat.update").length - updatesBefore).toBe(1);
    expect(inChannel()[0]!.text.startsWith("A line 0")).toBe(true);

    await h.adapter.edit(sent, { text: "**done**" });
    expect(inChannel().map((m) => m.text)).toEqual(["*done*"]);
    expect(h.standIn.callsOf("chat.delete").length).toBeGreaterThanOrEqual(1);
  });

  it("maps an edit of a message that is gone to E_NOT_FOUND", async () => {
    const error = await h.adapter
      .edit({ platform: "slack", chatId: "CEDIT0002", messageId: "1.000" }, { text: "x" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ name: "SwitchboardError", code: "E_NOT_FOUND" });
  });
});
