/**
 * Files in the web chat over loopback on a real listener with real console sessions: files on a message become
 * the inbound's attachments (read within `maxBytes`), too many or too large are refused at once with nothing
 * handed to the router, a reply's file is announced with a link that serves it to that chat's person only, and
 * the held files are bounded by count.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webChatIdOf } from "../../../adapters/web/index.ts";
import { startWebChat, type WebChatRig } from "../../stand-ins/web/harness.ts";

let rig: WebChatRig;
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

beforeAll(async () => {
  rig = await startWebChat(
    {},
    { maxUploadFiles: 2, maxUploadBytes: 4096, maxFileBytes: 8192, maxHeldFiles: 3, maxHeldBytes: 1 << 20 },
  );
});
afterAll(async () => {
  await rig?.close();
});

describe("web chat files", () => {
  it("puts files on a message as attachments, and shows their names in what the person said", async () => {
    const client = await rig.signIn("telegram:10");
    const notes = new TextEncoder().encode("line one\nline two\n");
    const sent = await client.sayWithFiles("look at these", [
      { name: "pixel.png", mimeType: "image/png", bytes: png },
      { name: "notes.txt", mimeType: "text/plain", bytes: notes },
    ]);
    expect(sent.status).toBe(202);
    const inbound = await rig.sink.waitFor(`web:${webChatIdOf("telegram:10")}:${sent.clientId}`);
    expect(inbound.text).toBe("look at these");
    expect(inbound.attachments?.map((a) => [a.name, a.mimeType, a.size])).toEqual([
      ["pixel.png", "image/png", png.byteLength],
      ["notes.txt", "text/plain", notes.byteLength],
    ]);
    expect(Buffer.from(await inbound.attachments![1]!.fetch({ maxBytes: 100 })).toString()).toBe(
      "line one\nline two\n",
    );
    await expect(inbound.attachments![0]!.fetch({ maxBytes: 4 })).rejects.toMatchObject({ code: "E_FILE_TOO_LARGE" });
    const said = rig.adapter.chats.get(webChatIdOf("telegram:10"))!.events.find((e) => e.type === "said");
    expect(said?.files).toEqual([
      { name: "pixel.png", mimeType: "image/png", size: png.byteLength },
      { name: "notes.txt", mimeType: "text/plain", size: notes.byteLength },
    ]);
  });

  it("refuses too many files, too many bytes, and a body past the route's limit, handing nothing to the router", async () => {
    const client = await rig.signIn("telegram:11");
    const before = rig.sink.received.length;
    const tiny = { name: "a.txt", mimeType: "text/plain", bytes: new Uint8Array(10) };
    const three = await client.sayWithFiles("three", [tiny, tiny, tiny]);
    expect(three.status).toBe(400);
    const big = { name: "big.bin", mimeType: "application/octet-stream", bytes: new Uint8Array(2100) };
    // Two files within the body limit, over the bytes a message may carry in all.
    const tooMany = await client.sayWithFiles("two halves", [big, big]);
    expect(tooMany).toMatchObject({ status: 413, error: "E_FILE_TOO_LARGE" });
    // A body far past what any allowed message could be is cut off by the route's body limit.
    const huge = await client.sayWithFiles("huge", [{ ...big, bytes: new Uint8Array(200_000) }]);
    expect(huge.status).toBe(413);
    const badBase64 = await client.post("/api/webchat/messages", {
      text: "x",
      clientId: "bad-b64",
      files: [{ name: "x", mimeType: "text/plain", data: "<script>" }],
    });
    expect(badBase64.status).toBe(400);
    const badType = await client.post("/api/webchat/messages", {
      text: "x",
      clientId: "bad-type",
      files: [{ name: "x", mimeType: "text/html; charset=utf-8\r\nx: y", data: "AAAA" }],
    });
    expect(badType.status).toBe(400);
    expect(rig.sink.received.length).toBe(before);
    expect(rig.adapter.chats.get(webChatIdOf("telegram:11"))?.events.some((e) => e.type === "said")).not.toBe(true);
  });

  it("sends a reply's file as a link that only that chat's person can download", async () => {
    const owner = await rig.signIn("telegram:12");
    const sent = await owner.say("/report");
    const inbound = await rig.sink.waitFor(`web:${webChatIdOf("telegram:12")}:${sent.clientId}`);
    const data = new TextEncoder().encode("<html><script>alert(1)</script></html>");
    await inbound.respond({ text: "Your page.", file: { name: "page one.html", data, mimeType: "text/html" } });
    const event = rig.adapter.chats.get(webChatIdOf("telegram:12"))!.events.find((e) => e.type === "file")!;
    expect(event.file).toMatchObject({ name: "page one.html", size: data.byteLength });
    const url = event.file!.url;

    const mine = await owner.download(url);
    expect(mine.status).toBe(200);
    expect(Buffer.from(mine.bytes).equals(Buffer.from(data))).toBe(true);
    // Downloaded, never shown as a page of this origin.
    expect(mine.headers.get("content-type")).toBe("application/octet-stream");
    expect(mine.headers.get("content-disposition")).toMatch(/^attachment; filename="page_one.html"/);
    expect(mine.headers.get("content-security-policy")).toContain("sandbox");

    const other = await rig.signIn("telegram:13");
    const theirs = await other.download(url);
    expect(theirs.status).toBe(404);
    expect(Buffer.from(theirs.bytes).toString()).not.toContain("script");
    const anonymous = await fetch(`${rig.base}${url}`);
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
    // The same person signed in again (another session) reads their own chat's file.
    expect((await (await rig.signIn("telegram:12")).download(url)).status).toBe(200);
  });

  it("holds files by count: the oldest upload goes first and reading it then says so", async () => {
    const client = await rig.signIn("telegram:14");
    const inbounds = [];
    for (const n of [1, 2, 3, 4]) {
      const sent = await client.sayWithFiles(`file ${n}`, [
        { name: `f${n}.txt`, mimeType: "text/plain", bytes: new TextEncoder().encode(`number ${n}`) },
      ]);
      expect(sent.status).toBe(202);
      inbounds.push(await rig.sink.waitFor(`web:${webChatIdOf("telegram:14")}:${sent.clientId}`));
    }
    expect(rig.adapter.uploads.size).toBeLessThanOrEqual(3);
    await expect(inbounds[0]!.attachments![0]!.fetch({ maxBytes: 100 })).rejects.toMatchObject({
      code: "E_ADAPTER",
      chatMessage: expect.stringMatching(/f1\.txt is no longer available/),
    });
    expect(Buffer.from(await inbounds[3]!.attachments![0]!.fetch({ maxBytes: 100 })).toString()).toBe("number 4");
  });
});
