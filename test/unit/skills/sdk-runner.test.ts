/**
 * The skill SDK's local test runner (`switchboard-skill test`): chat lines and scripted tool calls against a built
 * skill, capabilities refused as the bot refuses them, and fetch to a local HTTP server only when the script allows
 * plain HTTP and that address.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildSkill,
  createLocalRunner,
  initSkill,
  playScript,
  readScript,
  type TestScript,
} from "@switchboard/skill-sdk/cli";
import { COMMAND_NAME as SDK_COMMAND_NAME } from "@switchboard/skill-sdk/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_NAME } from "../../../bot/index.ts";

let work: string;
let server: Server;
let port: number;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sb-sdk-runner-"));
  server = createServer((req, res) => res.end(`pong ${req.url}`));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(work, { recursive: true, force: true });
});

/** Scaffold a skill, replace its source and manifest permissions, build it. */
async function skill(
  name: string,
  source: string,
  { permissions, tools = [] }: { permissions: Record<string, unknown>; tools?: unknown[] },
): Promise<string> {
  const dir = join(work, name);
  await initSkill(`switchboard-skill-${name}`, dir);
  const pkgPath = join(dir, "package.json");
  const pkg = JSON.parse(await readFile(pkgPath, "utf8"));
  pkg.switchboard.permissions = permissions;
  pkg.switchboard.tools = tools;
  pkg.switchboard.commands[0].name = name;
  await writeFile(pkgPath, JSON.stringify(pkg));
  await writeFile(join(dir, "src/index.ts"), source);
  await buildSkill(dir);
  return dir;
}

describe("the SDK's local runner", () => {
  it("plays the scaffold's own script: two chat lines and a scripted tool call", async () => {
    const dir = join(work, "scaffold");
    await initSkill("switchboard-skill-scaffold", dir);
    await buildSkill(dir);
    const script = JSON.parse(await readFile(join(dir, "test/conversation.json"), "utf8")) as TestScript;
    const { skill: name, results } = await playScript(createLocalRunner(), dir, script);
    expect(name).toBe("scaffold");
    expect(results.map((r) => [r.step, r.got, r.ok])).toEqual([
      ["/scaffold", "Hello Tester! (#1 in this chat)", true],
      ["/scaffold world", "Hello world! (#2 in this chat)", true],
      ['tool greeting {"who":"Ada"}', "Hello Ada!", true],
    ]);
  });

  it("fails a step whose answer differs, and returns a tool's JSON result as JSON text", async () => {
    const dir = await skill(
      "sum",
      `import { defineSkill } from "@switchboard/skill-sdk";
       export default defineSkill({ commands: { sum: () => "no" }, tools: { add: (a: { x: number; y: number }) => ({ total: a.x + a.y }) } });`,
      { permissions: {}, tools: [{ name: "add", description: "add", parameters: { type: "object" } }] },
    );
    const { results } = await playScript(createLocalRunner(), dir, {
      steps: [
        { tool: "add", args: { x: 2, y: 3 }, expect: '{"total":5}' },
        { send: "/sum", expect: "yes" },
        { tool: "missing", args: {} },
      ],
    });
    expect(results[0]?.ok).toBe(true);
    expect(results[1]).toMatchObject({ ok: false, got: "no", wanted: '= "yes"' });
    expect(results[2]?.got).toBe('(error) the skill has no tool "missing"');
  });

  it("refuses storage the manifest does not ask for, with the bot's code", async () => {
    const dir = await skill(
      "nostore",
      `import { defineSkill } from "@switchboard/skill-sdk";
       export default defineSkill({ commands: { nostore: async (ctx) => { await ctx.storage.set("k", 1); return "stored"; } } });`,
      { permissions: {} },
    );
    const { results } = await playScript(createLocalRunner(), dir, { steps: [{ send: "/nostore" }] });
    expect(results[0]?.got).toBe("(error) E_SKILL_DENIED: the manifest does not ask for storage");
  });

  it("gives a built skill the files of a step through ctx.files, and refuses them without the permission", async () => {
    const source = `import { defineSkill } from "@switchboard/skill-sdk";
       export default defineSkill({ commands: { NAME: async (ctx) => {
         const [f] = await ctx.files.list();
         if (f === undefined) return "none";
         const read = await ctx.files.read(f.id);
         return read.name + " " + read.size + " " + read.data;
       } } });`;
    const files = [{ name: "n.txt", text: "hi" }];
    const reads = await skill("reads", source.replace("NAME", "reads"), { permissions: { files: { read: true } } });
    const played = await playScript(createLocalRunner(), reads, {
      steps: [{ send: "/reads", files }, { send: "/reads" }],
    });
    expect(played.results.map((r) => r.got)).toEqual(["n.txt 2 aGk=", "none"]);
    const blind = await skill("blind", source.replace("NAME", "blind"), { permissions: {} });
    const refused = await playScript(createLocalRunner(), blind, { steps: [{ send: "/blind", files }] });
    expect(refused.results[0]?.got).toBe("(error) E_SKILL_DENIED: the manifest does not ask for files.read");
  });

  it("refuses a script whose files are not on a send step or have no content", async () => {
    const bad = [
      { hear: "x", files: [{ name: "a", text: "x" }] },
      { send: "/x", files: [{ name: "a" }] },
      { send: "/x", files: [{ name: "a", text: "x", base64: "eA==" }] },
      { send: "/x", files: "a.txt" },
    ];
    for (const step of bad) {
      const path = join(work, "bad-files.json");
      await writeFile(path, JSON.stringify({ steps: [step] }));
      await expect(readScript(path)).rejects.toThrow(/"files" \(with send only\)/);
    }
    const path = join(work, "good-files.yaml");
    await writeFile(path, 'steps:\n  - send: /x\n    files: [{ name: a.bin, base64: "AAE=" }]\n');
    expect((await readScript(path)).steps[0]?.files).toEqual([{ name: "a.bin", base64: "AAE=" }]);
  });

  it("fetches from a local HTTP server only with allowHttp and the address allowed", async () => {
    const source = `import { defineSkill } from "@switchboard/skill-sdk";
       export default defineSkill({ commands: { ping: async (ctx) => (await ctx.fetch("http://127.0.0.1:${port}/x")).body } });`;
    const dir = await skill("ping", source, { permissions: { network: [`127.0.0.1:${port}`] } });
    const denied = await playScript(createLocalRunner(), dir, { steps: [{ send: "/ping" }] });
    expect(denied.results[0]?.got).toMatch(/E_SKILL_DENIED: http: is refused/);
    const noAddress = await playScript(createLocalRunner(), dir, {
      fetch: { allowHttp: true },
      steps: [{ send: "/ping" }],
    });
    expect(noAddress.results[0]?.got).toMatch(/E_SKILL_DENIED: 127\.0\.0\.1 is a private address/);
    const allowed = await playScript(createLocalRunner(), dir, {
      fetch: { allowHttp: true, allowAddresses: ["127.0.0.1"] },
      steps: [{ send: "/ping", expect: "pong /x" }],
    });
    expect(allowed.results[0]?.ok).toBe(true);
  });

  it("checks a command's defaultRole against the step's role (owner by default) and passes the role to ctx.user", async () => {
    const source = `import { defineSkill } from "@switchboard/skill-sdk";
       export default defineSkill({ commands: { rolecheck: async (ctx) => "ran as " + ctx.user.role } });`;
    const dir = await skill("rolecheck", source, { permissions: {} });
    const pkgPath = join(dir, "package.json");
    const pkg = JSON.parse(await readFile(pkgPath, "utf8"));
    pkg.switchboard.commands[0].defaultRole = "admin";
    await writeFile(pkgPath, JSON.stringify(pkg));
    const { results } = await playScript(createLocalRunner(), dir, {
      steps: [{ send: "/rolecheck", role: "member" }, { send: "/rolecheck", role: "admin" }, { send: "/rolecheck" }],
    });
    expect(results.map((r) => r.got)).toEqual([
      "(refused) E_PERMISSION_DENIED: /rolecheck needs admin; you are member",
      "ran as admin",
      "ran as owner",
    ]);
  });

  it("uses the same command-name rule as the bot's command registry", () => {
    expect(SDK_COMMAND_NAME.source).toBe(COMMAND_NAME.source);
  });
});
