/**
 * Installing a skill over the admin API against a real Verdaccio: the plan with its permissions, the consent sent
 * back, progress streamed as server-sent events, refusal when what was shown is not what the registry offers,
 * then enabling it in a chat with the consent it asks for, updating, rolling back and uninstalling. Bot owners
 * only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createMarketplacePlugin } from "../../../marketplace/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { callAs, type Session, signIn as signInAs } from "../../helpers/console-session.ts";
import { startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";

// npm publish and Verdaccio start-up are slow on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

let registry: TestRegistry;
let work: string;
let bot: TestBot;
let base: string;
let owner: Session;
let alice: Session;

const signIn = (userKey: string): Promise<Session> => signInAs(bot, base, userKey);
const call = (request: string, s: Session, body?: unknown) => callAs({ base, session: s }, request, body);
/** The server-sent events of a streamed answer, read to the end. */
async function events(res: Response): Promise<{ event: string; data: Record<string, unknown> }[]> {
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  return (await res.text())
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const [eventLine, dataLine] = block.split("\n") as [string, string];
      return { event: eventLine.slice(7), data: JSON.parse(dataLine.slice(6)) as Record<string, unknown> };
    });
}

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), "sb-install-api-"));
  await registry.publish(
    await writeSkill(join(work, "pkg-1"), {
      name: "switchboard-skill-weather",
      version: "1.0.0",
      description: "weather report",
      permissions: { network: ["api.weather.example"] },
    }),
  );
  let skillsReady!: (plugin: SkillsPlugin) => void;
  const skills = new Promise<SkillsPlugin>((resolve) => (skillsReady = resolve));
  bot = await startTestBot({
    set: {
      "bot.dataDir": join(work, "data"),
      "bot.owners": ["test:owner"],
      "skills.builtins": false,
      "marketplace.registry": registry.url,
    },
    plugins: [
      async (core) => {
        const plugin = await createSkillsPlugin(core);
        skillsReady(plugin);
        return plugin;
      },
      async (core) => createMarketplacePlugin(core, { skills: (await skills).service }),
    ],
  });
  base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
  await bot.app.core.store.chats.touch("test:A", { kind: "group", title: "A" }, Date.now());
  await bot.app.core.permissions.updatePolicy("test:A", { actor: "test:owner", action: "perms.role" }, (p) => {
    p.roleOverrides["test:alice"] = "admin";
  });
  [owner, alice] = [await signIn("test:owner"), await signIn("test:alice")];
});

afterAll(async () => {
  await bot?.stop();
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("installing skills over the admin API", () => {
  it("finds the package and shows its plan with the permissions it requests, to owners only", async () => {
    const search = (await (await call("GET /api/skills/search?q=weather", alice)).json()) as {
      hits: { name: string }[];
    };
    expect(search.hits.map((h) => h.name)).toContain("switchboard-skill-weather");
    const info = await call("GET /api/skills/info?name=switchboard-skill-weather", alice);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({
      name: "switchboard-skill-weather",
      description: "weather report",
      distTags: { latest: "1.0.0" },
      versions: [expect.objectContaining({ version: "1.0.0" })],
      latestPermissions: ["network:api.weather.example"],
    });
    expect((await call("POST /api/skills/plan", alice, { spec: "switchboard-skill-weather" })).status).toBe(403);
    const res = await call("POST /api/skills/plan", owner, { spec: "switchboard-skill-weather" });
    expect(res.status).toBe(200);
    const { plan } = (await res.json()) as {
      plan: { version: string; permissions: string[]; diff: { added: string[] } };
    };
    expect(plan.version).toBe("1.0.0");
    expect(plan.permissions).toEqual(["network:api.weather.example"]);
    expect(plan.diff.added).toEqual(["network:api.weather.example"]);
  });

  it("refuses an install whose consent is not what the registry offers, and installs the one shown, streaming progress", async () => {
    const refused = await events(
      await call("POST /api/skills/install", owner, {
        spec: "switchboard-skill-weather",
        version: "1.0.0",
        permissions: [],
      }),
    );
    expect(refused.at(-1)).toMatchObject({ event: "done", data: { status: "cancelled" } });
    expect((await (await call("GET /api/skills/installed", owner)).json()) as object).toEqual({ skills: [] });

    const stream = await events(
      await call("POST /api/skills/install", owner, {
        spec: "switchboard-skill-weather",
        version: "1.0.0",
        permissions: ["network:api.weather.example"],
      }),
    );
    expect(stream.filter((e) => e.event === "progress").length).toBeGreaterThan(0);
    expect(stream.at(-1)).toMatchObject({ event: "done", data: { status: "installed", version: "1.0.0" } });
    const installed = (await (await call("GET /api/skills/installed", owner)).json()) as {
      skills: { name: string; status: string }[];
    };
    expect(installed.skills).toEqual([
      expect.objectContaining({ name: "switchboard-skill-weather", status: "loaded" }),
    ]);
    const audit = await bot.app.core.store.audit.list("*", { action: "skills.install.request" });
    expect(audit[0]).toMatchObject({ actor: "test:owner", via: "web", target: "switchboard-skill-weather" });
  });

  it("lets a chat admin enable it with the consent it asks for, then an owner uninstalls it", async () => {
    const chat = (await (await call("GET /api/chats/test:A/skills", alice)).json()) as {
      skills: { skill: string; version: string; permissions: string[]; state: string }[];
    };
    const weather = chat.skills.find((s) => s.skill === "weather")!;
    expect(weather.state).toBe("disabled");
    const enabled = await call(`POST /api/chats/test:A/skills/${weather.skill}/enable`, alice, {
      version: weather.version,
      permissions: weather.permissions,
    });
    expect(enabled.status).toBe(200);
    expect((await call("POST /api/skills/uninstall", alice, { name: "switchboard-skill-weather" })).status).toBe(403);
    const gone = await call("POST /api/skills/uninstall", owner, { name: "switchboard-skill-weather" });
    expect(gone.status).toBe(200);
    expect((await (await call("GET /api/skills/installed", owner)).json()) as object).toEqual({ skills: [] });
  });
});
