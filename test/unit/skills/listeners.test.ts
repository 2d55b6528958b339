/**
 * Skills that listen, in parts: the manifest's `events` (hostile patterns refused at check and install, the
 * `messages.read` permission required), the bounded listener queues, and the author kit's script feeding events.
 */
import { resolve } from "node:path";
import { createLocalRunner, playScript, type TestScript } from "@switchboard/skill-sdk/cli";
import { describe, expect, it } from "vitest";
import { describePermission, flattenPermissions } from "../../../skills/sdk/permissions.ts";
import { validateManifest } from "../../../skills/index.ts";
import { compilePattern } from "../../../skills/manifest.ts";
import { ListenerQueues, type DropReason } from "../../../skills/runtime/listeners.ts";

const FIXTURE = resolve(import.meta.dirname, "../../fixtures/skills/listener");

function pkg(events: unknown, permissions: unknown = { messages: { read: true } }): Record<string, unknown> {
  return {
    name: "switchboard-skill-ears",
    version: "1.0.0",
    keywords: ["switchboard-skill"],
    switchboard: { manifestVersion: 1, entry: "index.js", permissions, events },
  };
}

describe("manifest events", () => {
  it("accepts every kind of subscription, and subscribes to nothing by default", () => {
    const result = validateManifest(
      pkg({
        messages: { pattern: "(?i)\\bdeploy (\\w+)" },
        hooks: ["ci", "alerts_prod"],
        reactions: true,
        schedule: true,
        lifecycle: ["enabled", "disabled", "settingsChanged"],
      }),
    );
    expect(result.ok, result.ok ? "" : result.message).toBe(true);
    const none = validateManifest(pkg(undefined, {}));
    expect(none.ok && none.skill.manifest.events).toEqual({});
    expect(none.ok && none.skill.manifest.permissions.messages.read).toBe(false);
  });

  it("refuses hostile and unsupported patterns with the field and the fix", () => {
    const hostile = [
      "(a)\\1", // backreference: no linear-time match exists
      "(?=x)y", // lookahead
      "(?<=x)y", // lookbehind
      "x{1001}", // repeat count past RE2's bound
      "((a{100}){100}){100}", // nested counted repeats building a huge program
      "[", // not a regular expression
      "a".repeat(201), // longer than the bound
      "",
    ];
    for (const pattern of hostile) {
      const result = validateManifest(pkg({ messages: { pattern } }));
      expect(result.ok, pattern).toBe(false);
      if (result.ok) continue;
      expect(result.issues[0]!.field, pattern).toBe("switchboard.events.messages.pattern");
      expect(result.issues[0]!.fix.length, pattern).toBeGreaterThan(10);
    }
  });

  it("matches patterns that backtrack catastrophically elsewhere in linear time", () => {
    // With a backtracking engine each of these takes longer than the age of the universe on this input.
    const input = `${"a".repeat(4_000)}!`;
    for (const pattern of ["(a+)+$", "(a|aa)*b", "(a*)*c", ".*.*.*.*.*x"]) {
      expect(compilePattern(pattern).matcher(input).find(), pattern).toBe(false);
    }
  });

  it("needs messages.read to hear messages, shown as what it means in the consent", () => {
    const result = validateManifest(pkg({ messages: { pattern: "deploy" } }, {}));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues[0]).toMatchObject({ field: "switchboard.events.messages" });
      expect(result.issues[0]!.fix).toContain('"read": true');
    }
    const flat = flattenPermissions({ messages: { read: true, otherChats: false } });
    expect(flat).toEqual(["messages.read"]);
    expect(describePermission("messages.read")).toBe("sees every message in this chat");
    expect(flattenPermissions({ files: { read: true, maxBytes: 4096 } })).toEqual([
      "files.maxBytes=4096",
      "files.read",
    ]);
    expect(describePermission("files.read")).toBe("reads files and images sent with its commands");
    expect(describePermission("files.maxBytes=4096")).toBe("reads files of at most 4096 bytes each");
  });

  it("refuses unknown event kinds, bad hook names and unknown lifecycle events", () => {
    for (const events of [{ typing: true }, { hooks: ["Bad Name"] }, { lifecycle: ["installed"] }]) {
      expect(validateManifest(pkg(events)).ok, JSON.stringify(events)).toBe(false);
    }
  });
});

describe("listener queues", () => {
  function queues(options: { queueLength: number; maxQueues: number; maxAgeMs: number }) {
    let now = 0;
    const ran: string[] = [];
    const dropped: Array<[string, DropReason]> = [];
    const gates = new Map<string, () => void>();
    const q = new ListenerQueues<string>({
      ...options,
      now: () => now,
      run: (job) =>
        new Promise<void>((done) => {
          ran.push(job);
          gates.set(job, done);
        }),
      dropped: (job, reason) => dropped.push([job, reason]),
    });
    const finish = async (job: string) => {
      gates.get(job)?.();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    return { q, ran, dropped, finish, tick: (ms: number) => (now += ms) };
  }

  it("runs one event at a time per queue, drops past the length at once, and forgets an empty queue", async () => {
    const { q, ran, dropped, finish } = queues({ queueLength: 2, maxQueues: 10, maxAgeMs: 1_000 });
    expect(q.push("chat-a", "a1")).toBe(true);
    expect(q.push("chat-a", "a2")).toBe(true);
    expect(q.push("chat-a", "a3")).toBe(true);
    expect(q.push("chat-a", "a4")).toBe(false);
    expect(q.push("chat-b", "b1")).toBe(true);
    expect(ran).toEqual(["a1", "b1"]);
    expect(dropped).toEqual([["a4", "queue-full"]]);
    await finish("a1");
    expect(ran).toEqual(["a1", "b1", "a2"]);
    let idle = false;
    void q.whenIdle("chat-a").then(() => (idle = true));
    await finish("a2");
    expect(idle).toBe(false);
    await finish("a3");
    expect(idle).toBe(true);
    await finish("b1");
    expect(q.size).toBe(0);
  });

  it("drops events that waited too long, and events past the number of queues", async () => {
    const { q, ran, dropped, finish, tick } = queues({ queueLength: 5, maxQueues: 1, maxAgeMs: 100 });
    q.push("chat-a", "a1");
    q.push("chat-a", "a2");
    expect(q.push("chat-b", "b1")).toBe(false);
    tick(101);
    q.push("chat-a", "a3");
    await finish("a1");
    expect(ran).toEqual(["a1", "a3"]);
    expect(dropped).toEqual([
      ["b1", "too-many-queues"],
      ["a2", "stale"],
    ]);
  });
});

describe("the author kit feeds events", () => {
  it("plays hear, react, hook, fire and lifecycle steps against the listener fixture", async () => {
    const script: TestScript = {
      settings: { greeting: "Listening." },
      steps: [
        { lifecycle: "enabled", expect: "Listening." },
        { hear: "please deploy api", expect: "Heard a deploy of api (event/message)" },
        { hear: "nothing to see", expectNothing: true },
        { hear: "deploy crash", expectContains: "listener crashed on purpose" },
        { react: "👍", expectNothing: true },
        { hook: "ci", payload: { status: "failed" }, expect: "Hook ci: failed" },
        { hook: "other", expectContains: "does not subscribe to the hook" },
        { fire: "/heard", expect: "Schedule fired: /heard" },
        { send: "/heard", expectContains: "reaction 👍 on test-message" },
      ],
    };
    const { results } = await playScript(createLocalRunner(), FIXTURE, script);
    expect(results.map((r) => [r.step, r.ok, r.got])).toEqual([
      ["lifecycle: enabled", true, "Listening."],
      ["hear: please deploy api", true, "Heard a deploy of api (event/message)"],
      ["hear: nothing to see", true, undefined],
      ["hear: deploy crash", true, "(error) Error: listener crashed on purpose"],
      ["react: 👍", true, undefined],
      ['hook: ci {"status":"failed"}', true, "Hook ci: failed"],
      ["hook: other {}", true, '(error) the manifest does not subscribe to the hook "other"'],
      ["fire: /heard", true, "Schedule fired: /heard"],
      [
        "/heard",
        true,
        "heard: lifecycle enabled | message api from Tester | reaction 👍 on test-message | schedule /heard",
      ],
    ]);
  });

  it("fails a step whose listener answered when nothing was expected", async () => {
    const { results } = await playScript(createLocalRunner(), FIXTURE, {
      steps: [{ hear: "deploy api", expectNothing: true }],
    });
    expect(results[0]).toMatchObject({ ok: false, wanted: "no reply" });
  });
});
