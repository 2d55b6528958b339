/**
 * Skills and files, end to end through the real Telegram adapter (grammY) and the stand-in Bot API. A skill replies
 * with a file: it runs in its isolate, the file crosses as base64, and the stand-in receives the upload. A skill
 * with the `files` permission reads the files sent with its command: the adapter's attachment is fetched from the
 * stand-in's file host (`getFile`), within the skill's per-file limit and its invocation's byte budget.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner, playScript, type SkillRunner, type TestScript } from "@switchboard/skill-sdk/cli";
import { createRuntimeRunner } from "../../../marketplace/author/conversation.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTestBot } from "../../helpers/app.ts";
import { startTelegramBot, type TelegramBot } from "../telegram/bot.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/skills");
const USER = 4711;
/** What the bot answers a plain message when no language model is configured. */
const HINT = "I answer commands here.";

/** The 32-bit FNV-1a hash the reader fixture computes in its isolate, in hex. */
function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

function bytesOf(size: number, seed: number): Uint8Array {
  const hash = createHash("sha256").update(String(seed)).digest();
  return Uint8Array.from({ length: size }, (_, i) => hash[i % hash.length]! ^ (i & 0xff));
}

describe("skill file replies through Telegram", () => {
  let bot: TelegramBot;
  let plugin: SkillsPlugin;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-files-"));
    bot = await startTelegramBot({
      set: {
        "bot.dataDir": dataDir,
        "bot.owners": [`telegram:${USER}`],
        "limits.perUser": { burst: 1_000, perMinute: 100_000 },
      },
      plugins: [
        async (core) => (plugin = await createSkillsPlugin(core, { env: { SWITCHBOARD_SECRET_KEY: "test-key" } })),
      ],
    });
    await plugin.service.load(join(FIXTURES, "filer"), { source: "installed" });
    await plugin.service.enable(`telegram:${USER}`, "filer", `telegram:${USER}`);
    await plugin.service.load(join(FIXTURES, "reader"), { source: "installed" });
  }, 120_000);

  afterAll(async () => {
    await bot?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Send a command in the DM and wait until the bot has answered it (a message or a file). */
  async function run(text: string): Promise<void> {
    const before = bot.standIn.messagesIn(USER).length + bot.standIn.files.length;
    bot.standIn.queueMessage({ chatId: USER, userId: USER, text });
    await bot.standIn.waitFor(
      () => bot.standIn.messagesIn(USER).length + bot.standIn.files.length > before,
      15_000,
      `an answer to ${text}`,
    );
  }

  /** The first message since `before` that `wanted` accepts (the bot's hint to a plain message may come between). */
  async function answerSince(before: number, what: string, wanted: (text: string) => boolean): Promise<string> {
    const found = () => bot.standIn.messagesIn(USER).find((m, i) => i >= before && wanted(m.text));
    await bot.standIn.waitFor(() => found() !== undefined, 15_000, what);
    return found()!.text;
  }

  /** Send a file with a command as its caption and wait for the bot's next message. */
  async function sendFile(input: {
    caption: string;
    name: string;
    mimeType: string;
    bytes: Uint8Array;
    asPhoto?: boolean;
  }) {
    const before = bot.standIn.messagesIn(USER).length;
    bot.standIn.queueFile({ chatId: USER, userId: USER, ...input });
    return answerSince(before, `an answer to ${input.caption}`, (text) => !text.startsWith(HINT));
  }

  it("asks the chat to approve reading files before the skill runs there", async () => {
    expect(plugin.service.state(`telegram:${USER}`, "reader")).toBe("disabled");
    expect(plugin.service.pendingPermissions(`telegram:${USER}`, "reader")).toContain(
      "reads files and images sent with its commands (up to 4096 bytes each)",
    );
    await plugin.service.enable(`telegram:${USER}`, "reader", `telegram:${USER}`);
    expect(plugin.service.pendingPermissions(`telegram:${USER}`, "reader")).toEqual([]);
    expect(plugin.service.describeLimits("reader")).toContain("files 6000 B in");
  });

  it("lets a skill with files.read read a document sent with its command: its size and hash", async () => {
    const bytes = bytesOf(3000, 1);
    const text = await sendFile({ caption: "/hash", name: "data.bin", mimeType: "application/octet-stream", bytes });
    expect(text).toBe(`data.bin application/octet-stream 3000 3000 ${fnv1a(bytes)}`);
    expect(bot.standIn.callsOf("getFile").length).toBeGreaterThan(0);
  });

  it("reads a photo sent with a command", async () => {
    const bytes = bytesOf(1200, 2);
    const text = await sendFile({ caption: "/hash", name: "photo.jpg", mimeType: "image/jpeg", bytes, asPhoto: true });
    expect(text).toMatch(new RegExp(` image/jpeg 1200 1200 ${fnv1a(bytes)}$`));
  });

  it("refuses a file over the skill's per-file limit at once, with a clear message", async () => {
    const getFiles = bot.standIn.callsOf("getFile").length;
    const text = await sendFile({
      caption: "/hash",
      name: "big.bin",
      mimeType: "application/zip",
      bytes: bytesOf(5000, 3),
    });
    expect(text).toBe(
      "big.bin error E_FILE_TOO_LARGE: the file big.bin is larger than the 4096 bytes this skill may read",
    );
    // The platform told the size: nothing was downloaded.
    expect(bot.standIn.callsOf("getFile")).toHaveLength(getFiles);
  });

  it("refuses a read past the invocation's file budget at once", async () => {
    const getFiles = bot.standIn.callsOf("getFile").length;
    const text = await sendFile({
      caption: "/twice",
      name: "a.bin",
      mimeType: "application/octet-stream",
      bytes: bytesOf(3500, 4),
    });
    expect(text).toBe(
      "first 3500; second error E_SKILL_BUDGET: over its budget: at most 6000 bytes of files read per invocation\n\n" +
        "(The skill reader went over its budget: at most 6000 bytes of files read per invocation; 1 call was refused.)",
    );
    // The first read downloaded the file; the second was refused before asking for it.
    expect(bot.standIn.callsOf("getFile")).toHaveLength(getFiles + 1);
  });

  it("cuts off a file the platform gave no size for at the per-file limit or the budget, while downloading", async () => {
    /** A document whose size the platform does not tell before the download. */
    const sendUnsized = async (caption: string, name: string, bytes: Uint8Array): Promise<string> => {
      const before = bot.standIn.messagesIn(USER).length;
      const update = bot.standIn.messageUpdate({ chatId: USER, userId: USER, text: caption });
      const message = update.message as Record<string, unknown>;
      delete message.text;
      message.caption = caption;
      const fileId = `unsized-${name}`;
      bot.standIn.hostedFiles.set(`documents/${fileId}`, { fileId, bytes });
      message.document = { file_id: fileId, file_unique_id: `u-${fileId}`, file_name: name, mime_type: "text/plain" };
      bot.standIn.queueUpdate(update);
      return answerSince(before, `an answer to ${caption}`, (text) => !text.startsWith(HINT));
    };
    const big = await sendUnsized("/hash", "unsized-big.txt", bytesOf(5000, 10));
    expect(big).toBe(
      "unsized-big.txt error E_FILE_TOO_LARGE: the file unsized-big.txt is larger than the 4096 bytes this skill may read",
    );
    const twice = await sendUnsized("/twice", "unsized.txt", bytesOf(3500, 11));
    expect(twice).toMatch(
      /^first 3500; second error E_SKILL_BUDGET: over its budget: at most 6000 bytes of files read per invocation\n/,
    );
  });

  it("never lets a skill read a file of another message, by a kept id or a guessed one", async () => {
    const kept = await sendFile({
      caption: "/remember",
      name: "secret.txt",
      mimeType: "text/plain",
      bytes: bytesOf(100, 5),
    });
    expect(kept).toBe("remembered 1");
    await run("/steal");
    expect(bot.standIn.messagesIn(USER).at(-1)!.text).toBe(
      "listed 0; E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND",
    );
    // Nor with a file of its own on the message: the kept id still names nothing.
    const withFile = await sendFile({
      caption: "/steal",
      name: "mine.txt",
      mimeType: "text/plain",
      bytes: bytesOf(10, 6),
    });
    expect(withFile).toBe("listed 1; E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND");
  });

  it("lets a listener read the files of the message it heard, and only those", async () => {
    const heard = (text: string) => text.startsWith("heard ");
    const bytes = bytesOf(700, 9);
    let before = bot.standIn.messagesIn(USER).length;
    bot.standIn.queueFile({
      chatId: USER,
      userId: USER,
      caption: "measure this",
      name: "heard.bin",
      mimeType: "application/pdf",
      bytes,
    });
    expect(await answerSince(before, "the listener's answer", heard)).toBe(`heard heard.bin 700 ${fnv1a(bytes)}`);
    before = bot.standIn.messagesIn(USER).length;
    bot.standIn.queueMessage({ chatId: USER, userId: USER, text: "measure this" });
    expect(await answerSince(before, "the listener's answer", heard)).toBe("heard no files");
  });

  it("denies files to a skill without the files permission", async () => {
    const text = await sendFile({ caption: "/peek", name: "x.txt", mimeType: "text/plain", bytes: bytesOf(10, 7) });
    expect(text).toBe("error E_SKILL_DENIED: reading files was not declared by this skill");
  });

  it("sends a file a skill gave as bytes, after the reply's text, as a document", async () => {
    await run("/report");
    await bot.standIn.waitFor(() => bot.standIn.files.length === 1, 15_000, "the upload");
    const [file] = bot.standIn.files;
    expect(file).toMatchObject({ method: "sendDocument", chatId: String(USER), name: "report.csv" });
    expect(Buffer.from(file!.bytes).toString("utf8")).toBe("service,status\nweb,up\ndb,up\n");
    expect(bot.standIn.messagesIn(USER).at(-1)!.text).toBe("Today's report");
  });

  it("sends a small image a skill gave as base64 as a photo, with no empty text message", async () => {
    const messages = bot.standIn.messagesIn(USER).length;
    await run("/logo");
    const file = bot.standIn.files.at(-1)!;
    expect(file).toMatchObject({ method: "sendPhoto", name: "logo.png" });
    expect(Buffer.from(file.bytes).subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(bot.standIn.messagesIn(USER)).toHaveLength(messages);
  });

  it("refuses a file whose name could be a path, telling the skill why", async () => {
    const files = bot.standIn.files.length;
    await run("/badfile");
    expect(bot.standIn.messagesIn(USER).at(-1)!.text).toMatch(/^error E_BAD_ARGS: a file needs a name/);
    expect(bot.standIn.files).toHaveLength(files);
  });
});

describe("files in skill test scripts", () => {
  const big = Buffer.from(bytesOf(5000, 8)).toString("base64");
  const script: TestScript = {
    steps: [
      {
        send: "/hash",
        files: [{ name: "a.txt", text: "hello", mimeType: "text/plain" }],
        expect: `a.txt text/plain 5 5 ${fnv1a(new TextEncoder().encode("hello"))}`,
      },
      { send: "/hash", expect: "no files" },
      {
        send: "/hash",
        files: [{ name: "big.bin", base64: big }],
        expect: "big.bin error E_FILE_TOO_LARGE: the file big.bin is larger than the 4096 bytes this skill may read",
      },
      { send: "/remember", files: [{ name: "s.txt", text: "secret" }], expect: "remembered 1" },
      { send: "/steal", expect: "listed 0; E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND, E_NOT_FOUND" },
    ],
  };

  async function play(runner: SkillRunner): Promise<Array<[string, boolean, string | undefined]>> {
    const { results } = await playScript(runner, join(FIXTURES, "reader"), script);
    return results.map((r) => [r.step, r.ok, r.got]);
  }

  const expected = script.steps.map((s) => [s.send, true, s.expect]);

  it("attaches a script's files to its line in the SDK's local runner", async () => {
    expect(await play(createLocalRunner())).toEqual(expected);
  });

  it("attaches a script's files to its line in the bot's runtime", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sb-files-runner-"));
    try {
      const app = await startTestBot({
        set: { "bot.dataDir": dataDir, "skills.builtins": false },
        plugins: [(core) => createSkillsPlugin(core)],
      });
      const runner = createRuntimeRunner({ core: app.app.core, plugins: app.app.plugins, stop: () => app.stop() });
      expect(await play(runner)).toEqual(expected);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
