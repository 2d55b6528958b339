/**
 * Skills on the admin API with the real skill runtime and marketplace plugins (built-in skills loaded): a chat's
 * skills with the permissions they ask for, enabling as a consent (409 when what was shown is not what the
 * skill asks for now), `/skills`' subcommand roles applied as the signed-in person, changes audited with `via`.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMarketplacePlugin } from "../../../marketplace/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { callAs, type Session, signIn as signInAs } from "../../helpers/console-session.ts";

describe("skills on the admin API", () => {
  let bot: TestBot;
  let base: string;
  let work: string;
  let alice: Session;
  let bob: Session;
  let skillsPlugin: SkillsPlugin;

  const signIn = (userKey: string): Promise<Session> => signInAs(bot, base, userKey);
  const call = (request: string, s: Session, body?: unknown) => callAs({ base, session: s }, request, body);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "sb-skills-api-"));
    let skillsReady!: (plugin: SkillsPlugin) => void;
    const skills = new Promise<SkillsPlugin>((resolve) => (skillsReady = resolve));
    bot = await startTestBot({
      set: { "bot.dataDir": work, "bot.owners": ["test:owner"], "marketplace.registry": "http://127.0.0.1:9/" },
      plugins: [
        async (core) => {
          const plugin = await createSkillsPlugin(core);
          skillsPlugin = plugin;
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
      p.roleOverrides["test:bob"] = "member";
    });
    [alice, bob] = [await signIn("test:alice"), await signIn("test:bob")];
  }, 120_000);
  afterAll(async () => {
    await bot?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("lists a chat's skills with the permissions each asks for", async () => {
    const res = await call("GET /api/chats/test:A/skills", bob);
    expect(res.status).toBe(200);
    const { skills } = (await res.json()) as { skills: { skill: string; state: string; permissions: string[] }[] };
    const httpcheck = skills.find((s) => s.skill === "httpcheck")!;
    expect(httpcheck.state).toBe("disabled");
    expect(httpcheck.permissions).toContain("network:api.github.com");
    expect(skills.find((s) => s.skill === "dice")?.state).toBe("enabled");
  });

  it("enables a skill only with the consent it asks for now, for a chat admin, audited with via", async () => {
    const listed = (await (await call("GET /api/chats/test:A/skills", alice)).json()) as {
      skills: { skill: string; version: string; permissions: string[] }[];
    };
    const httpcheck = listed.skills.find((s) => s.skill === "httpcheck")!;
    const consent = { version: httpcheck.version, permissions: httpcheck.permissions };
    expect((await call("POST /api/chats/test:A/skills/httpcheck/enable", bob, consent)).status).toBe(403);
    const stale = await call("POST /api/chats/test:A/skills/httpcheck/enable", alice, {
      ...consent,
      permissions: consent.permissions.slice(1),
    });
    expect(stale.status).toBe(409);
    expect(
      (await call("POST /api/chats/test:A/skills/httpcheck/enable", alice, { ...consent, version: "0.9.0" })).status,
    ).toBe(409);
    const ok = await call("POST /api/chats/test:A/skills/httpcheck/enable", alice, consent);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { skill: { state: string } }).skill.state).toBe("enabled");
    const audit = await bot.app.core.store.audit.list("test:A", { action: "skills.approve" });
    expect(audit[0]).toMatchObject({ actor: "test:alice", via: "web", target: "httpcheck" });

    const off = await call("POST /api/chats/test:A/skills/httpcheck/disable", alice, {});
    expect(((await off.json()) as { skill: { state: string } }).skill.state).toBe("disabled");
    expect((await call("POST /api/chats/test:A/skills/nope/enable", alice, consent)).status).toBe(404);
  });

  it("shows settings to those /skills settings allows, and refuses a key the skill does not declare", async () => {
    expect((await call("GET /api/chats/test:A/skills/httpcheck/settings", bob)).status).toBe(403);
    const shown = await call("GET /api/chats/test:A/skills/httpcheck/settings", alice);
    expect(shown.status).toBe(200);
    expect(await shown.json()).toEqual({ settings: {} });
    const refused = await call("PUT /api/chats/test:A/skills/httpcheck/settings/apiKey", alice, { value: "x" });
    expect(refused.status).toBe(400);
  });

  it("takes a secret setting and never gives it back: masked in every answer, sealed in the store", async () => {
    const dir = join(work, "secretive");
    await cp(resolve(import.meta.dirname, "../../fixtures/skills/storer"), dir, { recursive: true });
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as {
      name: string;
      switchboard: Record<string, unknown>;
    };
    pkg.name = "switchboard-skill-secretive";
    pkg.switchboard.commands = [{ name: "secretive", description: "Nothing" }];
    pkg.switchboard.settings = {
      properties: { token: { type: "string", secret: true }, greeting: { type: "string", default: "hi" } },
    };
    await writeFile(join(dir, "package.json"), JSON.stringify(pkg));
    await skillsPlugin.service.load(dir, { source: "installed" });

    const put = await call("PUT /api/chats/test:A/skills/secretive/settings/token", alice, { value: "s3cr3t-value" });
    expect(put.status).toBe(200);
    const written = await put.text();
    expect(written).not.toContain("s3cr3t-value");
    expect(JSON.parse(written)).toEqual({ settings: { token: "••••••", greeting: "hi" } });
    const read = await call("GET /api/chats/test:A/skills/secretive/settings", alice);
    expect(await read.json()).toEqual({ settings: { token: "••••••", greeting: "hi" } });
    const stored = await bot.app.core.store.kv.get<object>("skills.settings", "test:A", "secretive");
    expect(JSON.stringify(stored)).not.toContain("s3cr3t-value");
    const audit = await bot.app.core.store.audit.list("test:A", { limit: 5 });
    expect(JSON.stringify(audit)).not.toContain("s3cr3t-value");
    expect((await call("PUT /api/chats/test:A/skills/secretive/settings/token", bob, { value: "x" })).status).toBe(403);
  });

  it("counts a skill's commands under the skill for the dashboard's top skills", async () => {
    await bot.adapter.say("/dice 2d6", { chatId: "A", userId: "bob" });
    await bot.app.core.router.drain();
    expect(bot.adapter.textsIn("A").at(-1)).toMatch(/\d/);
    const owner = await signIn("test:owner");
    // The counts are written every few seconds.
    await expect
      .poll(
        async () =>
          ((await (await call("GET /api/activity", owner)).json()) as { skills: { name: string; count: number }[] })
            .skills,
        { timeout: 20_000, interval: 500 },
      )
      .toEqual([{ name: "dice", count: 1 }]);
    expect((await call("GET /api/activity", bob)).status).toBe(403);
  });

  it("documents the skill routes in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/skills/search",
        "/api/skills/info",
        "/api/chats/{chatKey}/skills/{skill}/enable",
        "/api/chats/{chatKey}/skills/{skill}/settings/{key}",
      ]),
    );
  });
});
