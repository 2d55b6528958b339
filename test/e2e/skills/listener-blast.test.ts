/**
 * A listener's blast radius: a skill's event handlers run in a host process of their own beside its commands'
 * host, so a listener that aborts its process (one allocation far past its memory limit) fails no command of
 * the same skill, nor of another, that runs meanwhile. Through the real router, supervisor, host processes and
 * isolates, with a loopback server whose `/slow` answers after a second keeping the commands in flight.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenerSlot } from "../../../skills/service.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/skills");

/** Copy a fixture into `dir`, declaring the loopback server's port in its network permission. */
function withPort(dir: string, name: string, port: number): string {
  const to = join(dir, name);
  cpSync(join(FIXTURES, name), to, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(to, "package.json"), "utf8")) as {
    switchboard: { permissions: { network: string[] }; limits?: Record<string, unknown> };
  };
  pkg.switchboard.permissions.network = ["127.0.0.1", `127.0.0.1:${port}`];
  // A first call forks its skill's own host within its wall clock: the 2 s default holds the 1 s fetch and a fork
  // on a quiet machine, not on a loaded one, and this test is about the blast radius, not the clock.
  pkg.switchboard.limits = { ...pkg.switchboard.limits, timeoutMs: 10_000 };
  writeFileSync(join(to, "package.json"), JSON.stringify(pkg));
  return to;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a listener that aborts its host process", () => {
  let bot: TestBot;
  let plugin: SkillsPlugin;
  let dataDir: string;
  let http: Server;
  let url: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-listen-blast-"));
    http = createServer((req, res) => {
      if (req.url?.startsWith("/slow") === true) setTimeout(() => res.end("slow"), 1_000);
      else res.end("ok");
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}/slow`;
    bot = await startTestBot({
      set: {
        "bot.dataDir": dataDir,
        "skills.builtins": false,
        "skills.fetch": { allowHttp: true, allowAddresses: ["127.0.0.1"] },
        "limits.perUser": { burst: 1_000, perMinute: 100_000 },
        "limits.perChat": { burst: 1_000, perMinute: 100_000 },
      },
      plugins: [async (core) => (plugin = await createSkillsPlugin(core))],
    });
    await plugin.service.load(withPort(dataDir, "listenbomb", port), { source: "installed" });
    await plugin.service.load(withPort(dataDir, "greedy", port), { source: "installed" });
    await plugin.service.enable("test:lb", "listenbomb", "test:owner");
    await plugin.service.enable("test:g", "greedy", "test:owner");
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
    await new Promise<void>((r) => http?.close(() => r()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const say = (text: string, chatId: string) =>
    bot.app.core.router.process(bot.adapter.inbound(text, { chatId, role: "admin" }));

  it("runs the skill's listeners in a host process of their own", async () => {
    await say(`/listenbomb ${url}`, "lb");
    expect(bot.adapter.textsIn("lb").at(-1)).toBe("slow slow");
    const commands = plugin.supervisor.hostFor("listenbomb");
    const listeners = plugin.supervisor.hostFor(listenerSlot("listenbomb"));
    expect(listeners).not.toBe(commands);
    expect(listeners.group).toBe("skill:listenbomb+events");
  }, 60_000);

  it("fails no command of the same skill or another while its listener aborts its process", async () => {
    const listeners = plugin.supervisor.hostFor(listenerSlot("listenbomb"));
    const commands = plugin.supervisor.hostFor("listenbomb");
    const commandsPid = commands.pid;
    expect(commandsPid).toBeDefined();
    // Commands in flight for a second: one of the same skill, two of another skill.
    const inFlight = [
      say(`/listenbomb ${url}`, "lb"),
      say(`/greedy slow ${url}`, "g"),
      say(`/greedy slow ${url}`, "g"),
    ];
    await new Promise((r) => setTimeout(r, 200));
    const exitsBefore = listeners.crashes;
    await say("drop the bomb", "lb");
    await until("the listener's host to abort", () => listeners.crashes > exitsBefore);
    await Promise.all(inFlight);
    expect(bot.adapter.textsIn("lb").at(-1)).toBe("slow slow");
    expect(bot.adapter.textsIn("g").slice(-2)).toEqual(["slow slow", "slow slow"]);
    // The listener's failure said nothing in the chat, and the commands' host never stopped.
    expect(bot.adapter.textsIn("lb").some((t) => /allocat|crash|limit/.test(t))).toBe(false);
    expect(commands.pid).toBe(commandsPid);
  }, 60_000);
});
