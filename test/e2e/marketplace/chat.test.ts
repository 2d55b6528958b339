/**
 * `/skills` end to end: a real Verdaccio, the real router, skill runtime and marketplace plugins. Search, info,
 * install (owner approves), enable (chat admin approves), run the skill's command, update without and with new
 * permissions (the chat must approve again), rollback, uninstall; a tampered skill is refused at the next start.
 */
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Reply } from "../../../bot/index.ts";
import { createMarketplacePlugin, Marketplace, type MarketplacePlugin } from "../../../marketplace/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { writeSkill, type FixtureSkill } from "../../fixtures/marketplace/packages.ts";
import { listFiles, startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";

// npm publish and store start-up are slow on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

let registry: TestRegistry;
let work: string;
let n = 0;

async function publish(skill: FixtureSkill): Promise<void> {
  await registry.publish(await writeSkill(join(work, `pkg-${n++}`), skill));
}

async function startBot(
  dataDir: string,
  { builtins = false }: { builtins?: boolean } = {},
): Promise<{ bot: TestBot; skills: () => SkillsPlugin; market: () => MarketplacePlugin }> {
  let skills: SkillsPlugin | undefined;
  let market: MarketplacePlugin | undefined;
  // createApp builds plugin factories concurrently: the marketplace waits for the skills plugin.
  let skillsReady!: (plugin: SkillsPlugin) => void;
  const skillsPlugin = new Promise<SkillsPlugin>((resolve) => (skillsReady = resolve));
  const bot = await startTestBot({
    set: {
      "bot.dataDir": dataDir,
      "bot.owners": ["test:owner"],
      "permissions.newChats": "platform-admins",
      "skills.builtins": builtins,
      "marketplace.registry": registry.url,
      // The script sends many commands quickly from few users; inbound rate limits are not under test here.
      "limits.perUser": { burst: 1_000, perMinute: 100_000 },
      "limits.perChat": { burst: 1_000, perMinute: 100_000 },
    },
    plugins: [
      async (core) => {
        skills = await createSkillsPlugin(core);
        skillsReady(skills);
        return skills;
      },
      async (core) => (market = await createMarketplacePlugin(core, { skills: (await skillsPlugin).service })),
    ],
  });
  return { bot, skills: () => skills!, market: () => market! };
}

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), "sb-mk-chat-"));
  await publish({ name: "switchboard-skill-greet", version: "1.0.0", description: "greets the chat" });
  await publish({ name: "switchboard-skill-other", version: "1.0.0", description: "another skill" });
  await publish({ name: "switchboard-skill-pinned", version: "0.1.0" });
  await publish({ name: "switchboard-skill-pinned", version: "1.1.0" });
  await publish({
    name: "httpcheck",
    version: "2.0.0",
    description: "an unrelated package",
    manifest: null,
    keywords: [],
  });
  await publish({
    name: "switchboard-skill-forecast",
    version: "1.0.0",
    manifest: {
      settings: {
        properties: { city: { type: "string", description: "Default city" }, apiKey: { type: "string", secret: true } },
      },
    },
  });
});

afterAll(async () => {
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("/skills through the router", () => {
  let bot: TestBot;
  let dataDir: string;
  let market: () => MarketplacePlugin;
  let skills: () => SkillsPlugin;

  beforeAll(async () => {
    dataDir = join(work, "data-chat");
    ({ bot, market, skills } = await startBot(dataDir));
  });

  afterAll(async () => {
    await bot?.stop();
  });

  const say = async (text: string, as: "owner" | "admin" | "member", chatId = "c1"): Promise<Reply> => {
    const before = bot.adapter.sent.length;
    const userId = as === "owner" ? "owner" : as === "admin" ? "boss" : "pat";
    await bot.app.core.router.process(
      bot.adapter.inbound(text, { chatId, userId, role: as === "admin" ? "admin" : "member" }),
    );
    const sent = bot.adapter.sent.slice(before).filter((s) => s.chatId === chatId);
    expect(sent.length, `no reply to ${text}`).toBeGreaterThan(0);
    return sent.at(-1)!.reply;
  };
  /** Press the reply's Confirm button as `as`; answers the last reply once the confirmed command has run. */
  const confirm = async (reply: Reply, as: "owner" | "admin" | "member", chatId = "c1"): Promise<Reply> => {
    const data = reply.buttons?.[0]?.[0]?.data;
    expect(data, reply.text).toMatch(/^\/confirm [0-9a-f]{8}$/);
    const before = bot.adapter.sent.length;
    await say(data!, as, chatId);
    await bot.app.core.router.drain(); // the confirmed command runs behind /confirm in the conversation
    return bot.adapter.sent
      .slice(before)
      .filter((s) => s.chatId === chatId)
      .at(-1)!.reply;
  };
  /** Press the reply's first button as `as`. */
  const press = (reply: Reply, as: "owner" | "admin" | "member", chatId = "c1"): Promise<Reply> => {
    const data = reply.buttons?.[0]?.[0]?.data;
    expect(data, reply.text).toMatch(/^\/skills approve [0-9a-f]{10}$/);
    return say(data!, as, chatId);
  };

  it("searches the registry (keyword filtered client-side) and shows info to members", async () => {
    const found = await say("/skills search greet", "member");
    expect(found.text).toContain("switchboard-skill-greet");
    expect(found.text).not.toContain("switchboard-skill-other");
    const info = await say("/skills info switchboard-skill-greet", "member");
    expect(info.text).toContain("greets the chat");
    expect(info.text).toContain("1.0.0");
    expect(info.text).toContain("Not installed.");
  });

  it("lets only owners install, after the same owner confirms the plan", async () => {
    const denied = await say("/skills install switchboard-skill-greet", "admin");
    expect(denied.text).toContain("/skills install here: it needs the owner role");
    const plan = await say("/skills install switchboard-skill-greet", "owner");
    expect(plan.text).toContain("Install **switchboard-skill-greet@1.0.0**?");
    expect(plan.text).toContain("no permissions");
    expect(plan.text).toContain("This will run `/skills install switchboard-skill-greet` as test:owner.");
    expect(await listFiles(join(dataDir, "skills"))).toEqual([]);
    // Someone else cannot confirm it, not even an admin of the chat.
    const data = plan.buttons?.[0]?.[0]?.data ?? "";
    expect((await say(data, "admin")).text).toContain("Only test:owner, who asked for it, can confirm");
    expect(await listFiles(join(dataDir, "skills"))).toEqual([]);
    const done = await confirm(plan, "owner");
    expect(done.text).toContain("Installed **switchboard-skill-greet@1.0.0**");
    const actions = (await bot.app.core.store.audit.list("test:c1")).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(["request.ask", "request.refuse", "request.confirm", "request.run"]),
    );
    expect(await listFiles(join(dataDir, "skills"))).toContain("switchboard-skill-greet/1.0.0/dist/index.js");
  });

  it("runs the skill only after a chat admin enables it and approves its permissions", async () => {
    const before = await say("/greet", "member");
    expect(before.text).not.toContain("rolled");
    const memberTry = await say("/skills enable greet", "member");
    expect(memberTry.text).toContain("/skills enable here: it needs the admin role");
    const ask = await say("/skills enable greet", "admin");
    expect(ask.text).toContain("Enable **greet** 1.0.0 in this chat?");
    const ok = await press(ask, "admin");
    expect(ok.text).toContain("**greet** 1.0.0 is enabled in this chat.");
    expect((await say("/greet", "member")).text).toBe("switchboard-skill-greet 1.0.0 rolled 4");
    expect((await say("/greet", "member", "c2")).text).not.toContain("rolled");
    const audit = await bot.app.core.store.audit.list("test:c1");
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(["skills.enable", "skills.approve"]));
    const global = await bot.app.core.store.audit.list("*");
    expect(global.map((a) => a.action)).toContain("skills.install");
  });

  it("updates without new permissions: the chat keeps running the new version", async () => {
    await publish({ name: "switchboard-skill-greet", version: "1.1.0", changelog: "friendlier greeting" });
    const plan = await say("/skills update greet", "owner");
    expect(plan.text).toContain("Update **switchboard-skill-greet** 1.0.0 → 1.1.0?");
    expect(plan.text).toContain("Changelog: friendlier greeting");
    expect(plan.text).toContain("No new permissions.");
    expect((await confirm(plan, "owner")).text).toContain("Updated **switchboard-skill-greet** to 1.1.0.");
    expect((await say("/greet", "member")).text).toBe("switchboard-skill-greet 1.1.0 rolled 4");
  });

  it("updates with new permissions: the new version does not run until the chat approves them", async () => {
    await publish({ name: "switchboard-skill-greet", version: "1.2.0", permissions: { storage: true } });
    const plan = await say("/skills update greet", "owner");
    expect(plan.text).toContain("**New permissions**");
    expect(plan.text).toContain("keep data for each chat");
    expect((await confirm(plan, "owner")).text).toContain("must approve the new permissions");
    // The command is still there and says what to approve (it used to vanish: "I don't know /greet").
    const waiting = (await say("/greet", "member")).text;
    expect(waiting).not.toContain("rolled");
    expect(waiting).toContain("was updated and asks for new permissions (storage)");
    expect(waiting).toContain("/skills enable greet");
    expect((await say("/skills list", "member")).text).toContain("needs-reapproval");
    const ask = await say("/skills enable greet", "admin");
    expect(ask.text).toContain("asks for new permissions here");
    expect(ask.text).toContain("storage");
    await press(ask, "admin");
    expect((await say("/greet", "member")).text).toBe("switchboard-skill-greet 1.2.0 rolled 4");
  });

  it("rolls back to the previous pinned version", async () => {
    expect((await say("/skills rollback greet", "admin")).text).toContain("needs the owner role");
    expect((await say("/skills rollback greet", "owner")).text).toContain("back from 1.2.0 to 1.1.0");
    expect((await say("/greet", "member")).text).toBe("switchboard-skill-greet 1.1.0 rolled 4");
  });

  it("lets chat admins read and change a skill's settings, secrets masked", async () => {
    await market().marketplace.install("switchboard-skill-forecast", { actor: "cli:test" });
    expect((await say("/skills settings forecast city Oslo", "member")).text).toContain("needs the admin role");
    expect((await say("/skills settings forecast city Oslo", "admin")).text).toContain("Set `city` for **forecast**");
    await say("/skills settings forecast apiKey hunter2", "admin");
    const shown = await say("/skills settings forecast", "admin");
    expect(shown.text).toContain('`city` = "Oslo"');
    expect(shown.text).not.toContain("hunter2");
    const bad = await say("/skills settings forecast nosuch 1", "admin");
    expect(bad.text).not.toContain("Set `nosuch`");
    expect(await bot.app.core.store.kv.get("skills.settings", "test:c1", "forecast")).toBeDefined();
    const { purged } = await market().marketplace.uninstall("switchboard-skill-forecast", "cli:test", {
      purgeData: true,
    });
    expect(purged).toBe(1);
    expect(await bot.app.core.store.kv.get("skills.settings", "test:c1", "forecast")).toBeUndefined();
  });

  it("uninstalls: files gone, command gone, stored data deleted with --purge only after confirmation", async () => {
    await bot.app.core.store.kv.set("skill:greet", "test:c1", { key: "count", value: 3 });
    const ask = await say("/skills uninstall greet --purge", "owner");
    expect(ask.text).toContain("Uninstall **switchboard-skill-greet** 1.1.0 and delete its stored data in every chat?");
    expect(ask.text).toContain("confirm with `/confirm ");
    // Nothing happens until it is confirmed.
    expect(await listFiles(join(dataDir, "skills"))).toContain("switchboard-skill-greet/1.1.0/dist/index.js");
    expect(await bot.app.core.store.kv.get("skill:greet", "test:c1", "count")).toBe(3);
    const done = await confirm(ask, "owner");
    expect(done.text).toContain("Uninstalled **switchboard-skill-greet** 1.1.0 and deleted 1 stored entry.");
    expect(await listFiles(join(dataDir, "skills"))).toEqual(["switchboard-lock.json"]);
    expect(await bot.app.core.store.kv.get("skill:greet", "test:c1", "count")).toBeUndefined();
    expect((await say("/greet", "member")).text).not.toContain("rolled");
    expect(await market().marketplace.list()).toEqual([]);
  });

  it("removes the chats' grants on uninstall: a reinstall needs a new approval", async () => {
    const grants = async () =>
      (await bot.app.core.store.sql.query("SELECT chat_key FROM skill_grants WHERE skill = 'greet'")).rows;
    expect(await grants()).toEqual([]);
    expect((await bot.app.core.store.audit.list("test:c1")).map((a) => a.action)).toContain("skills.revoke");
    await market().marketplace.install("switchboard-skill-greet@1.1.0", { actor: "cli:test" });
    expect(skills().service.state("test:c1", "greet")).toBe("disabled");
    expect((await say("/greet", "member")).text).not.toContain("rolled");
    // Without --purge nothing is deleted but files and grants: no confirmation asked.
    await bot.app.core.store.kv.set("skill:greet", "test:c1", { key: "count", value: 1 });
    expect((await say("/skills uninstall greet", "owner")).text).toBe(
      "Uninstalled **switchboard-skill-greet** 1.1.0. Its stored data is kept (`/skills uninstall <skill> --purge` deletes it with the skill).",
    );
    expect(await bot.app.core.store.kv.get("skill:greet", "test:c1", "count")).toBe(1);
  });

  it("names a newer version outside the pinned range on update, and how to move to it", async () => {
    await market().marketplace.install("switchboard-skill-pinned@^0.1.0", { actor: "cli:test" });
    const reply = await say("/skills update pinned", "owner");
    expect(reply.text).toContain("up to date within its range ^0.1.0 (0.1.0)");
    expect(reply.text).toContain("1.1.0 is published outside that range");
    expect(reply.text).toContain("/skills install switchboard-skill-pinned@^1.1.0");
    await market().marketplace.uninstall("switchboard-skill-pinned", "cli:test");
  });

  it("refuses /skills info for a package without a Switchboard manifest", async () => {
    const reply = await say("/skills info httpcheck", "member");
    expect(reply.text).toContain("httpcheck is not a Switchboard skill");
    expect(reply.text).not.toContain("an unrelated package");
  });

  it("refuses to install what the registry changed to after the owner confirmed the plan", async () => {
    await publish({ name: "switchboard-skill-moving", version: "1.0.0" });
    const plan = await say("/skills install switchboard-skill-moving", "owner");
    expect(plan.text).toContain("Install **switchboard-skill-moving@1.0.0**?");
    // Published between the plan shown and its confirmation, asking for more.
    await publish({ name: "switchboard-skill-moving", version: "1.0.1", permissions: { storage: true } });
    const done = await confirm(plan, "owner");
    expect(done.text).toBe("switchboard-skill-moving changed on the registry since you confirmed. Ask again.");
    expect(await market().marketplace.find("switchboard-skill-moving")).toBeUndefined();
    // Asking again shows what the registry has now.
    const again = await say("/skills install switchboard-skill-moving", "owner");
    expect(again.text).toContain("Install **switchboard-skill-moving@1.0.1**?");
    expect(again.text).toContain("keep data for each chat");
  });

  it("picks up an install and an uninstall made by another process (the CLI) while running", async () => {
    const cliSide = new Marketplace({ config: bot.app.core.config.marketplace, ...Marketplace.dirs(dataDir), env: {} });
    await cliSide.install("switchboard-skill-other", { actor: "cli:test" });
    await vi.waitFor(() => expect(skills().service.get("other")?.version).toBe("1.0.0"), {
      timeout: 60_000,
      interval: 100,
    });
    await cliSide.uninstall("switchboard-skill-other", "cli:test");
    await vi.waitFor(() => expect(skills().service.get("other")).toBeUndefined(), { timeout: 60_000, interval: 100 });
  });
});

describe("built-in skills in /skills", () => {
  it("lists them, and describes a built-in from what runs here, not from a registry package of its name", async () => {
    const { bot } = await startBot(join(work, "data-builtins"), { builtins: true });
    try {
      const ask = async (text: string) => {
        const before = bot.adapter.sent.length;
        await bot.app.core.router.process(bot.adapter.inbound(text, { userId: "pat", role: "member" }));
        return bot.adapter.sent.slice(before).at(-1)?.text ?? "";
      };
      const list = await ask("/skills list");
      expect(list).toContain("**Built-in and linked skills**");
      expect(list).toMatch(/`dice` \(builtin [\d.]+\) — enabled/);
      expect(list).toMatch(/`httpcheck` \(builtin [\d.]+\) — disabled/);
      const info = await ask("/skills info httpcheck");
      expect(info).toMatch(/\*\*httpcheck\*\* [\d.]+ \(builtin\)/);
      expect(info).toContain("/httpcheck");
      expect(info).not.toContain("an unrelated package");
    } finally {
      await bot.stop();
    }
  });
});

describe("a tampered installed skill", () => {
  it("is refused at the next start with a clear message, and its command never loads", async () => {
    const dataDir = join(work, "data-tamper");
    const first = await startBot(dataDir);
    await first.market().marketplace.install("switchboard-skill-other", { actor: "cli:test" });
    expect(first.skills().service.get("other")?.version).toBe("1.0.0");
    await first.bot.stop();
    await appendFile(
      join(dataDir, "skills/switchboard-skill-other/1.0.0/dist/index.js"),
      "\nglobalThis.stolen = true;\n",
    );

    const second = await startBot(dataDir);
    try {
      expect(second.skills().service.get("other")).toBeUndefined();
      const [listed] = await second.market().marketplace.list();
      expect(listed).toMatchObject({ status: "refused" });
      expect(listed!.reason).toContain("its files changed on disk since it was installed (dist/index.js was modified)");
      const audit = await second.bot.app.core.store.audit.list("*");
      expect(audit.map((a) => a.action)).toContain("skills.refused");
    } finally {
      await second.bot.stop();
    }
  });
});
