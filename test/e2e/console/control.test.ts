/**
 * The priority lane and /stop at the console, through the real `switchboard start` process: while an LLM answer
 * hangs, /status is answered, and /stop ends the answer so the piped run finishes.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { runPiped } from "./run.ts";

let dir: string;
let openai: OpenAiStandIn;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-console-control-"));
  openai = await startOpenAiStandIn();
  await writeFile(
    join(dir, "switchboard.config.json"),
    JSON.stringify({
      bot: { dataDir: join(dir, "data") },
      llm: {
        models: [{ name: "main", provider: "openai", model: "stand-main", baseUrl: openai.baseUrl, apiKey: "k" }],
      },
    }),
  );
});

afterAll(async () => {
  await openai?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("console: priority lane and /stop", () => {
  it("answers /status while an answer hangs, and /stop ends it", async () => {
    // Turned on in a run of its own: piped lines arrive at once, and /stop stops whatever runs when it arrives.
    expect((await runPiped({ args: ["start"], input: "/ai on\n", cwd: dir })).stdout).toContain(
      "AI conversation is on",
    );
    openai.script.push("stand-main", { kind: "hang", text: "Once upon a time" });
    const input = ["tell me a long story", "/status", "/stop"].map((l) => `${l}\n`).join("");
    const { code, stdout } = await runPiped({ args: ["start"], input, cwd: dir });
    expect(code).toBe(0);
    // Piped lines arrive at once: the stop may land before or while the provider is asked (the in-process test
    // covers the stream's abort); either way the answer ends.
    expect(openai.script.for("stand-main").length).toBeLessThanOrEqual(1);
    const status = stdout.search(/Switchboard .*, up /);
    const stopped = stdout.indexOf("Stopped the answer.");
    expect(status).toBeGreaterThan(-1);
    expect(stopped).toBeGreaterThan(status);
  }, 180_000);

  it("asks before /perms role and runs it on /confirm, in a later run too (the request is stored)", async () => {
    const first = await runPiped({ args: ["start"], input: "/perms role alice admin\n", cwd: dir });
    expect(first.code).toBe(0);
    const id = /\/confirm ([0-9a-f]{8})/.exec(first.stdout)?.[1];
    expect(id, first.stdout).toBeDefined();
    expect(first.stdout).toContain(`[Confirm: /confirm ${id}]`);
    const second = await runPiped({ args: ["start"], input: `/confirm ${id}\n`, cwd: dir });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("console:alice is now admin in this chat.");
  }, 180_000);

  it("keeps a piped /confirm behind the command it confirms: one run, lines in order", async () => {
    // Piped lines arrive at once. /confirm is a control command, but it must not overtake the same person's
    // request that is still being asked, or it finds nothing to confirm.
    const input = ["/perms role bob admin", "/confirm", "/perms role carol member", "/confirm"]
      .map((l) => `${l}\n`)
      .join("");
    const { code, stdout } = await runPiped({ args: ["start"], input, cwd: dir });
    expect(code, stdout).toBe(0);
    expect(stdout).not.toContain("Nothing is waiting for you here");
    const bob = stdout.indexOf("console:bob is now admin in this chat.");
    const carol = stdout.indexOf("console:carol is now member in this chat.");
    expect(bob, stdout).toBeGreaterThan(-1);
    expect(carol, stdout).toBeGreaterThan(bob);
  }, 180_000);
});
