/**
 * The SDK's own runner for `switchboard-skill test`: loads the built entry into a fresh `node:vm` context (no
 * `require`, no `process`, no Node APIs; WebAssembly and shared memory removed, as in the bot's isolates) and
 * answers the capability object the way the bot does, from memory: storage per script run, settings and LLM
 * answers from the script, schedules in a list, fetch to declared hosts only. Every capability is refused with the
 * bot's error code when the manifest does not ask for it. Values cross as JSON, as they do in the bot.
 *
 * This is a test harness, not a sandbox: a skill's own tests run its own code. The bot runs skills in
 * isolated-vm in a separate process; `switchboard skills link <dir>` tries a skill there.
 */
import { lookup } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { createContext, runInContext } from "node:vm";
import { SkillKitError } from "./errors.ts";
import { compilePattern, parseSkillPackage, type SkillManifest } from "./manifest.ts";
import { scriptFileBytes, type ScriptEvent, type ScriptFile, type SkillRunner, type TestScript } from "./script.ts";

/** Options for the local runner. */
export interface LocalRunnerOptions {
  /** Wall time per step (default 10 s). */
  timeoutMs?: number;
}

type Handler = (...args: unknown[]) => unknown;
interface Definition {
  commands?: Record<string, Handler>;
  tools?: Record<string, Handler>;
  events?: Record<string, Handler>;
}

/** The bot's defaults for reading files: `limits.maxAttachmentBytes` and the `fileBytesIn` budget. */
const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
const FILE_BYTES_IN = 4_194_304;

/** The longest message text a pattern is matched against, as in the bot (`skills.listeners.maxMessageChars`). */
const MAX_MESSAGE_CHARS = 4_000;

/** A capability refusal, shaped like the bot's (`code` on the error). */
function denied(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "SkillCapabilityError", code });
}

/** Split a command's arguments like a shell: quotes keep words together. */
export function splitArgs(raw: string): string[] {
  const out: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw))
    out.push(m[1]?.replace(/\\(.)/g, "$1") ?? m[2] ?? m[3] ?? "");
  return out;
}

function hostAllowed(declared: readonly string[], url: URL): boolean {
  const port = url.port === "" ? "" : `:${url.port}`;
  return declared.some((pattern) => {
    const [hostPattern = "", patternPort] = pattern.split(":");
    // A pattern without a port allows any port, as in the bot.
    if (patternPort !== undefined && `:${patternPort}` !== port) return false;
    if (hostPattern.startsWith("*.")) return url.hostname.endsWith(hostPattern.slice(1));
    return url.hostname === hostPattern;
  });
}

function isPrivateAddress(address: string): boolean {
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a = 0, b = 0] = v4.split(".").map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  const lower = address.toLowerCase();
  return (
    lower === "::" || lower === "::1" || lower.startsWith("fc") || lower.startsWith("fd") || lower.startsWith("fe80")
  );
}

const ROLE_RANK: Record<string, number> = { guest: 0, member: 1, admin: 2, owner: 3 };

/** Create the SDK's local runner. */
export function createLocalRunner(options: LocalRunnerOptions = {}): SkillRunner {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let manifest: SkillManifest | undefined;
  let definition: Definition | undefined;
  let script: TestScript = { steps: [] };
  const storage = new Map<string, string>();
  const schedules: Array<Record<string, unknown>> = [];
  let llmAnswers: string[] = [];
  let replies: string[] = [];
  let fileIds = 0;

  const need = (granted: boolean, what: string): void => {
    if (!granted) throw denied("E_SKILL_DENIED", `the manifest does not ask for ${what}`);
  };
  const asJson = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));
  const replyText = (reply: unknown): string =>
    typeof reply === "string" ? reply : String((reply as { text?: unknown } | null)?.text ?? "");

  function context({
    kind,
    name,
    args,
    rawArgs,
    role = "owner",
    files = [],
  }: {
    kind: "command" | "tool" | "event";
    name: string;
    args: string[];
    rawArgs: string;
    role?: string;
    files?: readonly ScriptFile[] | undefined;
  }): Record<string, unknown> {
    const perms = manifest!.permissions;
    // Ids are fresh for every step, as in the bot: an id kept from another step names nothing.
    const attached = files.map((file) => ({ id: `file-${++fileIds}`, file, bytes: scriptFileBytes(file) }));
    const perFile = Math.min(perms.files.maxBytes ?? MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_BYTES);
    const budget = manifest!.limits.budget?.fileBytesIn ?? FILE_BYTES_IN;
    let bytesRead = 0;
    return Object.freeze({
      kind,
      command: kind === "command" ? name : undefined,
      tool: kind === "tool" ? name : undefined,
      event: kind === "event" ? name : undefined,
      args,
      rawArgs,
      chat: Object.freeze({ id: "test:chat-1", platform: "test", kind: "dm", title: "skill test" }),
      user: Object.freeze({ id: "test:tester", name: script.user ?? "Tester", role }),
      reply: async (reply: unknown) => void replies.push(replyText(asJson(reply))),
      send: async (target: string, reply: unknown) => {
        need(perms.messages.otherChats, "messages.otherChats");
        replies.push(`→ ${target}: ${replyText(asJson(reply))}`);
      },
      storage: Object.freeze({
        get: async (key: string) => {
          need(perms.storage !== false, "storage");
          const v = storage.get(String(key));
          return v === undefined ? undefined : JSON.parse(v);
        },
        set: async (key: string, value: unknown) => {
          need(perms.storage !== false, "storage");
          if (value === null) storage.delete(String(key));
          else storage.set(String(key), JSON.stringify(value));
        },
        delete: async (key: string) => {
          need(perms.storage !== false, "storage");
          return storage.delete(String(key));
        },
        list: async (prefix = "") => {
          need(perms.storage !== false, "storage");
          return [...storage.keys()]
            .filter((k) => k.startsWith(prefix))
            .sort()
            .slice(0, 100)
            .map((key) => ({ key, value: JSON.parse(storage.get(key)!) }));
        },
      }),
      fetch: async (raw: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => {
        const url = new URL(String(raw));
        need(hostAllowed(perms.network, url), `network access to ${url.host}`);
        if (url.protocol !== "https:" && !(url.protocol === "http:" && script.fetch?.allowHttp === true))
          throw denied("E_SKILL_DENIED", `${url.protocol} is refused (HTTPS only unless fetch.allowHttp)`);
        const host = url.hostname.replace(/^\[|\]$/g, "");
        const address = isIP(host) === 0 ? (await lookup(host)).address : host;
        if (isPrivateAddress(address) && !(script.fetch?.allowAddresses ?? []).includes(address))
          throw denied("E_SKILL_DENIED", `${address} is a private address (allow it with fetch.allowAddresses)`);
        const res = await fetch(url, {
          method: init?.method ?? "GET",
          headers: init?.headers ?? {},
          ...(init?.body === undefined ? {} : { body: init.body }),
          redirect: "manual",
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = await res.text();
        return Object.freeze({
          ok: res.ok,
          status: res.status,
          url: res.url,
          headers: Object.fromEntries(res.headers),
          body,
          text: async () => body,
          json: async () => JSON.parse(body),
        });
      },
      files: Object.freeze({
        list: async () => {
          need(perms.files.read, "files.read");
          return attached.map(({ id, file, bytes }) => ({
            id,
            name: file.name,
            mimeType: file.mimeType ?? "application/octet-stream",
            size: bytes.length,
          }));
        },
        read: async (id: string) => {
          need(perms.files.read, "files.read");
          const found = attached.find((a) => a.id === id);
          if (found === undefined)
            throw denied("E_NOT_FOUND", "no file with that id was sent with the message that invoked this skill");
          if (found.bytes.length > perFile)
            throw denied(
              "E_FILE_TOO_LARGE",
              `the file ${found.file.name} is larger than the ${perFile} bytes this skill may read`,
            );
          if (bytesRead + found.bytes.length > budget)
            throw denied("E_SKILL_BUDGET", `over its budget: at most ${budget} bytes of files read per invocation`);
          bytesRead += found.bytes.length;
          return {
            id,
            name: found.file.name,
            mimeType: found.file.mimeType ?? "application/octet-stream",
            size: found.bytes.length,
            data: Buffer.from(found.bytes).toString("base64"),
          };
        },
      }),
      settings: Object.freeze({ get: async () => asJson(script.settings ?? {}) }),
      llm: Object.freeze({
        complete: async () => {
          need(perms.llm !== false, "llm");
          const text = llmAnswers.shift();
          if (text === undefined) throw denied("E_CAPABILITY_UNAVAILABLE", "the script has no more `llm` answers");
          return { text, model: "script" };
        },
      }),
      schedule: Object.freeze({
        create: async (request: Record<string, unknown>) => {
          need(perms.schedules !== false, "schedules");
          const made = {
            id: String(schedules.length + 1),
            cron: request.cron ?? null,
            runAt: null,
            command: request.command,
            timeZone: request.timeZone ?? "UTC",
            state: "active",
            nextRunAt: null,
          };
          schedules.push(made);
          return asJson(made);
        },
        list: async () => {
          need(perms.schedules !== false, "schedules");
          return asJson(schedules);
        },
        cancel: async (id: string) => {
          need(perms.schedules !== false, "schedules");
          const at = schedules.findIndex((s) => s.id === String(id));
          if (at >= 0) schedules.splice(at, 1);
          return { deleted: String(id) };
        },
      }),
    });
  }

  async function run<T>(work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the handler took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  const errorLine = (error: unknown): string => {
    const code = (error as { code?: unknown }).code;
    return `(error) ${typeof code === "string" ? `${code}: ` : ""}${error instanceof Error ? error.message : String(error)}`;
  };

  return {
    async load(dir, theScript) {
      script = theScript;
      llmAnswers = [...(theScript.llm ?? [])];
      let pkg: unknown;
      try {
        pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
      } catch (error) {
        throw new SkillKitError("E_SKILL_INVALID", `${dir}/package.json cannot be read: ${(error as Error).message}`);
      }
      const info = parseSkillPackage(pkg);
      manifest = info.manifest;
      const entry = resolve(dir, manifest.entry);
      let code: string;
      try {
        code = await readFile(entry, "utf8");
      } catch {
        throw new SkillKitError("E_SKILL_INVALID", `${entry} is missing: run \`switchboard-skill build\` first`);
      }
      const sandbox = createContext({}, { codeGeneration: { strings: false, wasm: false } });
      runInContext(
        "delete globalThis.WebAssembly; delete globalThis.SharedArrayBuffer; delete globalThis.Atomics;",
        sandbox,
      );
      runInContext(code, sandbox, { filename: `skill:${info.name}/entry.js`, timeout: timeoutMs });
      const g = (sandbox as { skill?: { default?: Definition } & Definition }).skill;
      definition = g !== null && typeof g === "object" && g.default !== undefined ? g.default : g;
      if (definition === undefined || definition === null || typeof definition !== "object")
        throw new SkillKitError(
          "E_SKILL_INVALID",
          `${entry} does not define the global \`skill\` (build it with switchboard-skill build)`,
        );
      return info.name;
    },

    async send(line, role = "owner", files) {
      replies = [];
      const match = /^\/([^\s@]+)(?:@\S+)?\s*([\s\S]*)$/.exec(line.trim());
      const name = match?.[1]?.toLowerCase();
      const declared = manifest?.commands.find((c) => c.name === name);
      const handler = name === undefined ? undefined : definition?.commands?.[name];
      if (match === null || declared === undefined || typeof handler !== "function") {
        replies.push(`(error) the skill has no command ${JSON.stringify(line.trim().split(/\s/)[0])}`);
        return replies;
      }
      // The bot's check, without a chat policy: the command's defaultRole against the speaker's role.
      if ((ROLE_RANK[role] ?? 0) < (ROLE_RANK[declared.defaultRole] ?? 0)) {
        replies.push(`(refused) E_PERMISSION_DENIED: /${declared.name} needs ${declared.defaultRole}; you are ${role}`);
        return replies;
      }
      const rawArgs = match[2] ?? "";
      try {
        const value = await run(async () =>
          handler(context({ kind: "command", name: declared.name, args: splitArgs(rawArgs), rawArgs, role, files })),
        );
        if (value !== undefined && value !== null) replies.push(replyText(asJson(value)));
      } catch (error) {
        replies.push(errorLine(error));
      }
      return replies;
    },

    async callTool(name, args) {
      replies = [];
      const declared = manifest?.tools.find((t) => t.name === name);
      const handler = definition?.tools?.[name];
      if (declared === undefined || typeof handler !== "function")
        return { result: `(error) the skill has no tool ${JSON.stringify(name)}`, replies };
      try {
        const value = await run(async () =>
          handler(asJson(args), context({ kind: "tool", name, args: [], rawArgs: "" })),
        );
        return { result: typeof value === "string" ? value : JSON.stringify(value ?? null), replies };
      } catch (error) {
        return { result: errorLine(error), replies };
      }
    },

    async event(event: ScriptEvent) {
      replies = [];
      const subscribed = manifest?.events;
      const refuse = (why: string): string[] => {
        replies.push(`(error) ${why}`);
        return replies;
      };
      let payload: Record<string, unknown>;
      let role = "guest"; // the bot's own events (hooks, schedules, lifecycle) run as nobody in particular
      switch (event.type) {
        case "message": {
          if (subscribed?.messages === undefined) return refuse("the manifest does not subscribe to messages");
          if (manifest?.permissions.messages.read !== true)
            return refuse("the manifest does not ask for messages.read");
          const text = event.text.slice(0, MAX_MESSAGE_CHARS);
          const matcher = compilePattern(subscribed.messages.pattern).matcher(text);
          if (!matcher.find()) return replies; // not heard: the pattern does not match
          const match: string[] = [];
          for (let i = 0; i <= matcher.groupCount(); i++) match.push(matcher.group(i) ?? "");
          payload = { type: "message", text, match, messageId: "test-message", isCommand: text.startsWith("/") };
          role = "owner";
          break;
        }
        case "reaction":
          if (subscribed?.reactions !== true) return refuse("the manifest does not subscribe to reactions");
          payload = { type: "reaction", emoji: event.emoji, added: true, messageId: "test-message" };
          role = "owner";
          break;
        case "hook":
          if (subscribed?.hooks?.includes(event.name) !== true)
            return refuse(`the manifest does not subscribe to the hook ${JSON.stringify(event.name)}`);
          payload = {
            type: "hook",
            hook: { name: event.name, template: "generic" },
            deliveryId: `test-delivery-${Date.now()}`,
            payload: asJson(event.payload) ?? null,
            text: event.text,
          };
          break;
        case "schedule":
          if (subscribed?.schedule !== true) return refuse("the manifest does not subscribe to schedule fires");
          payload = { type: "schedule", scheduleId: "test-schedule", command: event.command };
          break;
        case "lifecycle":
          if (subscribed?.lifecycle?.includes(event.event) !== true)
            return refuse(`the manifest does not subscribe to the lifecycle event ${event.event}`);
          payload = { type: "lifecycle", event: event.event };
          break;
      }
      const handler = definition?.events?.[event.type];
      if (typeof handler !== "function") return refuse(`the skill has no events.${event.type} handler`);
      try {
        const value = await run(async () =>
          handler(payload, context({ kind: "event", name: event.type, args: [], rawArgs: "", role })),
        );
        if (value !== undefined && value !== null) replies.push(replyText(asJson(value)));
      } catch (error) {
        replies.push(errorLine(error));
      }
      return replies;
    },

    async close() {
      definition = undefined;
      storage.clear();
    },
  };
}
