/**
 * Test scripts for a skill: chat lines and scripted LLM tool calls, each with what the reply (or the tool's
 * result) should be. `playScript` plays one against a `SkillRunner`: the SDK's own local runner
 * (`createLocalRunner`), or the bot's real runtime when `switchboard skill test` runs it.
 *
 * Script (JSON or YAML):
 * ```json
 * { "steps": [ { "send": "/hello", "expect": "Hello Tester! (#1 in this chat)" },
 *              { "send": "/hello x", "expectContains": "x" },
 *              { "send": "/size", "files": [{ "name": "a.txt", "text": "hi" }], "expect": "a.txt: 2 bytes" },
 *              { "tool": "greeting", "args": { "who": "Ada" }, "expect": "Hello Ada!" },
 *              { "hear": "ticket 42 is broken", "expectContains": "tracker.example/42" },
 *              { "hear": "nothing to see", "expectNothing": true },
 *              { "react": "👍" },
 *              { "hook": "ci", "payload": { "status": "failed" }, "expect": "**ci**: the run failed" },
 *              { "fire": "/standup" },
 *              { "lifecycle": "enabled", "expect": "Listening." } ] }
 * ```
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { SkillKitError } from "./errors.ts";

/**
 * One step: a chat line (`send`), a tool call as the model would make it (`tool` with `args`), or an event fed to
 * the skill's `events` handlers: a message heard (`hear`), a reaction (`react`), an inbound hook delivery (`hook`
 * with `payload` and `text`), a schedule fire (`fire`, its command line), a lifecycle change (`lifecycle`).
 */
export interface ScriptStep {
  send?: string;
  /** Files sent with the `send` line, for a skill with `permissions.files.read` (`ctx.files`). */
  files?: ScriptFile[];
  tool?: string;
  args?: Record<string, unknown>;
  /** A message seen in the chat (not a command to run): goes to `events.message` when the pattern matches. */
  hear?: string;
  /** A reaction (`👍`) added to a message: goes to `events.reaction`. */
  react?: string;
  /** A delivery of the named hook: goes to `events.hook`, with `payload` and `text`. */
  hook?: string;
  /** The hook delivery's JSON payload. */
  payload?: unknown;
  /** The hook delivery's rendered text. */
  text?: string;
  /** A schedule fire running this command line: goes to `events.schedule`. */
  fire?: string;
  /** A lifecycle change: goes to `events.lifecycle`. */
  lifecycle?: "enabled" | "disabled" | "settingsChanged";
  expect?: string;
  expectContains?: string;
  expectMatch?: string;
  /** The step must produce no reply at all (a message the pattern does not match, a quiet listener). */
  expectNothing?: boolean;
  /** The speaker's role in the chat for this step (default `owner`): a command's `defaultRole` is checked against it. */
  role?: "owner" | "admin" | "member" | "guest";
}

/** A file sent with a script line: its content as `text` (UTF-8) or `base64`. */
export interface ScriptFile {
  name: string;
  /** Default `application/octet-stream`. */
  mimeType?: string;
  text?: string;
  base64?: string;
}

/** The bytes of a script file. */
export function scriptFileBytes(file: ScriptFile): Uint8Array {
  return file.base64 !== undefined
    ? new Uint8Array(Buffer.from(file.base64, "base64"))
    : new Uint8Array(Buffer.from(file.text ?? "", "utf8"));
}

/** Where the local runner lets `ctx.fetch` go (the bot's `skills.fetch` settings of the same names). */
export interface ScriptFetchSettings {
  /** Allow plain `http:` URLs (a local test server). */
  allowHttp?: boolean;
  /** Addresses allowed although private or loopback, like `"127.0.0.1"`. */
  allowAddresses?: string[];
}

/** A test script. */
export interface TestScript {
  description?: string;
  /** Display name of the speaker (default `Tester`). */
  user?: string;
  /** The chat's settings for the skill (`ctx.settings.get()`), local runner only. */
  settings?: Record<string, string | number | boolean>;
  /** Answers `ctx.llm.complete` gives, in order, local runner only. */
  llm?: string[];
  /** Fetch settings, local runner only. */
  fetch?: ScriptFetchSettings;
  steps: ScriptStep[];
}

/** An event a script feeds to a skill (the SDK's `SkillEvent` without what the runner fills in). */
export type ScriptEvent =
  | { type: "message"; text: string }
  | { type: "reaction"; emoji: string }
  | { type: "hook"; name: string; payload: unknown; text: string }
  | { type: "schedule"; command: string }
  | { type: "lifecycle"; event: "enabled" | "disabled" | "settingsChanged" };

/** Runs a skill for a script: loads it, sends chat lines, calls its tools. */
export interface SkillRunner {
  /** Load the built skill in `dir` for this script; resolves with the skill's name. */
  load(dir: string, script: TestScript): Promise<string>;
  /**
   * Send one chat line as the tester (as `owner` unless `role` says otherwise), with `files` attached when given;
   * resolves with every reply's text.
   */
  send(line: string, role?: ScriptStep["role"], files?: readonly ScriptFile[]): Promise<string[]>;
  /** Call one of the skill's tools (its manifest name) as the model would; resolves with the result text. */
  callTool(name: string, args: Record<string, unknown>): Promise<{ result: string; replies: string[] }>;
  /** Feed an event to the skill's handlers; resolves with every reply's text (none when nothing listened). */
  event?(event: ScriptEvent): Promise<string[]>;
  close(): Promise<void>;
}

/** The outcome of one step. */
export interface StepResult {
  /** The step as a line: `/hello x`, or `tool greeting {"who":"Ada"}`. */
  step: string;
  replies: string[];
  /** What was compared: the last reply, or the tool's result. */
  got: string | undefined;
  ok: boolean;
  /** What was expected, for the report. */
  wanted: string;
}

/** Read and check a script file (JSON, or YAML for any other extension). */
export async function readScript(path: string): Promise<TestScript> {
  const text = await readFile(path, "utf8");
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new SkillKitError(
      "E_BAD_ARGS",
      `${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`,
    );
  }
  const script = raw as TestScript;
  const kinds = (s: ScriptStep): number =>
    [s.send, s.tool, s.hear, s.react, s.hook, s.fire, s.lifecycle].filter((v) => typeof v === "string").length;
  const badStep = (s: ScriptStep | undefined): boolean =>
    s === null ||
    typeof s !== "object" ||
    kinds(s) !== 1 ||
    (s.lifecycle !== undefined && !["enabled", "disabled", "settingsChanged"].includes(s.lifecycle)) ||
    (s.role !== undefined && !["owner", "admin", "member", "guest"].includes(s.role)) ||
    (s.files !== undefined && (s.send === undefined || !Array.isArray(s.files) || !s.files.every(goodFile))) ||
    (s.args !== undefined && (s.args === null || typeof s.args !== "object" || Array.isArray(s.args)));
  if (script === null || typeof script !== "object" || !Array.isArray(script.steps) || script.steps.some(badStep)) {
    throw new SkillKitError(
      "E_BAD_ARGS",
      `${path}: a script is { "steps": [ { "send": "/cmd", "expect": "reply" }, { "tool": "name", "args": {}, "expect": "result" }, { "hear": "a message" }, { "react": "👍" }, { "hook": "name", "payload": {} }, { "fire": "/cmd" }, { "lifecycle": "enabled" } ] }, each step with exactly one of send, tool, hear, react, hook, fire, lifecycle; "files" (with send only) is a list of { "name", "text" or "base64", "mimeType" }`,
    );
  }
  return script;
}

function goodFile(f: ScriptFile | undefined): boolean {
  return (
    f !== null &&
    typeof f === "object" &&
    typeof f.name === "string" &&
    f.name !== "" &&
    (f.mimeType === undefined || typeof f.mimeType === "string") &&
    (typeof f.text === "string") !== (typeof f.base64 === "string")
  );
}

/** Play `script` against the skill in `dir` with `runner`; the runner is closed afterwards. */
export async function playScript(
  runner: SkillRunner,
  dir: string,
  script: TestScript,
): Promise<{ skill: string; results: StepResult[] }> {
  const results: StepResult[] = [];
  try {
    const skill = await runner.load(dir, script);
    for (const step of script.steps) {
      let replies: string[];
      let got: string | undefined;
      let line: string;
      const event = eventOf(step);
      if (event !== undefined) {
        line = event.line;
        if (runner.event === undefined)
          throw new SkillKitError("E_BAD_ARGS", `this runner cannot feed events (${line}); use switchboard-skill test`);
        replies = await runner.event(event.event);
        got = replies.at(-1);
      } else if (step.tool !== undefined) {
        const args = step.args ?? {};
        line = `tool ${step.tool} ${JSON.stringify(args)}`;
        const outcome = await runner.callTool(step.tool, args);
        replies = outcome.replies;
        got = outcome.result;
      } else {
        line = step.send ?? "";
        replies = await runner.send(line, step.role, step.files);
        got = replies.at(-1);
      }
      // A command must answer; a tool always does; a listener may stay quiet, but must not fail.
      const answered =
        event !== undefined
          ? !replies.some((r) => r.startsWith("(error)"))
          : step.tool !== undefined || replies.length > 0;
      results.push({ step: line, replies, got, ...judge(step, got, answered) });
    }
    return { skill, results };
  } finally {
    await runner.close();
  }
}

/** The event a step feeds, with the step as a line for the report; undefined for `send` and `tool`. */
function eventOf(step: ScriptStep): { event: ScriptEvent; line: string } | undefined {
  if (step.hear !== undefined) return { event: { type: "message", text: step.hear }, line: `hear: ${step.hear}` };
  if (step.react !== undefined) return { event: { type: "reaction", emoji: step.react }, line: `react: ${step.react}` };
  if (step.hook !== undefined) {
    const payload = step.payload ?? {};
    return {
      event: { type: "hook", name: step.hook, payload, text: step.text ?? "" },
      line: `hook: ${step.hook} ${JSON.stringify(payload)}`,
    };
  }
  if (step.fire !== undefined) return { event: { type: "schedule", command: step.fire }, line: `fire: ${step.fire}` };
  if (step.lifecycle !== undefined)
    return { event: { type: "lifecycle", event: step.lifecycle }, line: `lifecycle: ${step.lifecycle}` };
  return undefined;
}

function judge(step: ScriptStep, got: string | undefined, answered: boolean): { ok: boolean; wanted: string } {
  const text = got ?? "";
  if (step.expectNothing === true) return { ok: got === undefined, wanted: "no reply" };
  if (step.expect !== undefined) return { ok: text === step.expect, wanted: `= ${JSON.stringify(step.expect)}` };
  if (step.expectContains !== undefined)
    return { ok: text.includes(step.expectContains), wanted: `contains ${JSON.stringify(step.expectContains)}` };
  if (step.expectMatch !== undefined)
    return { ok: new RegExp(step.expectMatch).test(text), wanted: `matches /${step.expectMatch}/` };
  return { ok: answered, wanted: "any answer" };
}
