/** Small runtime parts: grant coverage, secret sealing, reply checks. */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingPermissions, noPermissions } from "../../../skills/runtime/grants.ts";
import { createSecretBox, loadSecretKey } from "../../../skills/runtime/secrets.ts";
import { neutraliseMentions } from "../../../bot/index.ts";
import { toSkillReply } from "../../../skills/runtime/capabilities.ts";

describe("grant coverage", () => {
  it("lists what a new version asks for beyond the grant", () => {
    const granted = { ...noPermissions(), network: ["a.example"], storage: { quotaKb: 64 } };
    expect(
      missingPermissions(granted, { ...noPermissions(), network: ["a.example"], storage: { quotaKb: 32 } }),
    ).toEqual([]);
    expect(
      missingPermissions(granted, {
        ...noPermissions(),
        network: ["a.example", "b.example"],
        storage: { quotaKb: 128 },
        llm: true,
      }),
    ).toEqual(["network b.example", "storage 128 KB", "llm"]);
    expect(
      missingPermissions(noPermissions(), {
        ...noPermissions(),
        storage: true,
        messages: { otherChats: true, mentions: true, read: true },
      }),
    ).toEqual(["storage", "messages to other chats", "mass mentions", "sees every message in this chat"]);
    // A grant stored before `read` existed has no such key: it does not cover a skill that now reads messages.
    const oldGrant = { ...noPermissions(), messages: { otherChats: false, mentions: false } };
    expect(
      missingPermissions(oldGrant as ReturnType<typeof noPermissions>, {
        ...noPermissions(),
        messages: { otherChats: false, mentions: false, read: true },
      }),
    ).toEqual(["sees every message in this chat"]);
  });

  it("asks again for reading files when the grant does not cover it or its per-file limit grew", () => {
    const reads = { ...noPermissions(), files: { read: true } };
    expect(missingPermissions(noPermissions(), reads)).toEqual(["reads files and images sent with its commands"]);
    expect(missingPermissions(reads, reads)).toEqual([]);
    const small = { ...noPermissions(), files: { read: true, maxBytes: 1_000 } };
    const large = { ...noPermissions(), files: { read: true, maxBytes: 5_000 } };
    expect(missingPermissions(small, large)).toEqual([
      "reads files and images sent with its commands (up to 5000 bytes each)",
    ]);
    expect(missingPermissions(large, small)).toEqual([]);
    // A grant stored before `files` existed does not cover a skill that now reads files.
    const { files: _files, ...oldGrant } = noPermissions();
    expect(missingPermissions(oldGrant as ReturnType<typeof noPermissions>, reads)).toHaveLength(1);
  });
});

describe("secret settings", () => {
  it("seals with a key kept 0600 in the data folder and opens only with it", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-secret-"));
    try {
      const key = loadSecretKey({ dataDir: dir, env: {} });
      expect(statSync(join(dir, "secret.key")).mode & 0o777).toBe(0o600);
      expect(loadSecretKey({ dataDir: dir, env: {} }).equals(key)).toBe(true);
      const sealed = createSecretBox(key).seal("hunter2");
      expect(sealed).not.toContain("hunter2");
      expect(readFileSync(join(dir, "secret.key"), "utf8")).not.toContain("hunter2");
      expect(createSecretBox(key).open(sealed)).toBe("hunter2");
      const other = loadSecretKey({ dataDir: undefined, env: { SWITCHBOARD_SECRET_KEY: "something else" } });
      expect(() => createSecretBox(other).open(sealed)).toThrow(/could not be decrypted/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("skill replies", () => {
  it("neutralises mass mentions on every platform's syntax", () => {
    const out = neutraliseMentions("@everyone @here @channel <!channel> <!here|here> <!everyone> <@&123> hi @someone");
    expect(out).not.toMatch(/@everyone|@here|@channel|<!channel>|<!here|<!everyone>|<@&123>/);
    // A single user's mention notifies too: neutralised unless the skill may mention.
    expect(out).toContain("@\u200bsomeone");
  });

  it("accepts text or { text, buttons } and refuses anything else", () => {
    expect(toSkillReply("hi", false)).toEqual({ text: "hi" });
    expect(
      toSkillReply({ text: "t", buttons: [[{ label: "a", data: "/a" }]], format: "plain", extra: 1 }, false),
    ).toEqual({ text: "t", buttons: [[{ label: "a", data: "/a" }]], format: "plain" });
    expect(toSkillReply("@everyone", true).text).toBe("@everyone");
    for (const bad of [
      null,
      5,
      [],
      { text: 5 },
      { text: "x", buttons: "no" },
      { text: "x", buttons: [[{ label: 1, data: "x" }]] },
    ]) {
      expect(() => toSkillReply(bad, false)).toThrow();
    }
  });
});
