/**
 * Confirmation and two-person approval through the real router: the same person confirms (a button or /confirm),
 * others approve (never the requester, always with the required role), requests expire after 5 minutes, survive
 * a restart (they live in the store), and every step is audited.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../../../bot/index.ts";
import { openStore } from "../../../bot/storage/open.ts";
import { pickServices } from "../../../bot/index.ts";
import { createSkillsPlugin, SKILLS_NEEDS, type SkillsPlugin } from "../../../skills/index.ts";
import { writeLinked } from "../../../skills/runtime/loader.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import type { SayOptions } from "../../helpers/test-adapter.ts";

let bot: TestBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

const BOSS: SayOptions = { userId: "boss" };
const ANN: SayOptions = { userId: "ann", role: "admin" };
const CAL: SayOptions = { userId: "cal", role: "admin" };
const PAT: SayOptions = { userId: "pat", role: "member" };

/** Say something and wait until everything it set off (a confirmed command included) has answered. */
async function say(b: TestBot, text: string, o: SayOptions): Promise<Reply[]> {
  const before = b.adapter.sent.length;
  await b.adapter.say(text, o);
  await b.app.core.router.drain();
  await b.app.core.router.drain(); // a completed request's command is queued by the /confirm that completed it
  return b.adapter.sent.slice(before).map((s) => s.reply);
}

const idOf = (reply: Reply | undefined): string =>
  /\/confirm ([0-9a-f]{8})|\/approve ([0-9a-f]{8})/
    .exec(reply?.text ?? "")
    ?.slice(1)
    .find(Boolean) ?? "";

describe("confirmation", () => {
  it("runs /perms role only after the same person confirms, by button data or /confirm, audited", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    const [ask] = await say(bot, "/perms role alice admin", BOSS);
    expect(ask!.text).toMatch(
      /^This will run `\/perms role alice admin` as test:boss\. To go on, confirm with `\/confirm [0-9a-f]{8}`/,
    );
    const id = idOf(ask);
    expect(ask!.buttons).toEqual([[{ label: "Confirm", data: `/confirm ${id}` }]]);
    expect(await bot.app.core.store.chats.getPolicy("test:c1")).toBeUndefined(); // nothing ran yet
    const [refused] = await say(bot, `/confirm ${id}`, ANN);
    expect(refused!.text).toBe(`Only test:boss, who asked for it, can confirm request ${id}.`);
    // The button press: the button's data, sent by the same person.
    const inbound = bot.adapter.inbound(ask!.buttons![0]![0]!.data, BOSS);
    inbound.origin = "button";
    await bot.app.core.router.process(inbound);
    await bot.app.core.router.drain();
    const texts = bot.adapter.textsIn();
    expect(texts).toContain(`Running \`/perms role alice admin\` (request ${id}).`);
    expect(texts.at(-1)).toBe("test:alice is now admin in this chat.");
    expect((await say(bot, `/confirm ${id}`, BOSS))[0]!.text).toBe(`Request ${id} is unknown here or has expired.`);
    const audit = (await bot.app.core.store.audit.list("test:c1", { limit: 20 })).map((a) => `${a.actor} ${a.action}`);
    expect(audit.reverse()).toEqual([
      "test:boss request.ask",
      "test:ann request.refuse",
      "test:boss request.confirm",
      "test:boss request.run",
      "test:boss perms.role",
    ]);
  });

  it("expires a request after 5 minutes, audited", async () => {
    let now = Date.UTC(2026, 0, 1);
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] }, clock: { now: () => now } });
    const id = idOf((await say(bot, "/perms role alice admin", BOSS))[0]);
    now += 5 * 60_000 + 1;
    expect((await say(bot, `/confirm ${id}`, BOSS))[0]!.text).toBe(`Request ${id} is unknown here or has expired.`);
    const audit = await bot.app.core.store.audit.list("test:c1", { limit: 5 });
    expect(audit.map((a) => `${a.actor} ${a.action}`)).toContain("system request.expire");
  });

  it("keeps a pending request across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-confirm-"));
    try {
      const store1 = await openStore({ dataDir: dir });
      bot = await startTestBot({ store: store1, set: { "bot.owners": ["test:boss"] } });
      const id = idOf((await say(bot, "/perms role alice admin", BOSS))[0]);
      await bot.stop();
      await store1.close();
      const store2 = await openStore({ dataDir: dir });
      bot = await startTestBot({ store: store2, set: { "bot.owners": ["test:boss"] } });
      await say(bot, `/confirm ${id}`, BOSS);
      expect(bot.adapter.textsIn().at(-1)).toBe("test:alice is now admin in this chat.");
      await bot.stop();
      bot = undefined;
      await store2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("two-person approval", () => {
  it("needs two other admins for a command a chat raised to 2 approvals; never the requester, never a member", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    await say(bot, "/perms platform-admins on", BOSS);
    expect((await say(bot, '/perms approvals "perms deny" 2', BOSS))[0]!.text).toBe(
      "/perms deny now needs 2 approvals from other people here.",
    );
    const [ask] = await say(bot, "/perms deny mallory", ANN);
    expect(ask!.text).toContain("2 other people with the admin role must approve with `/approve ");
    const id = idOf(ask);
    expect((await say(bot, `/approve ${id}`, ANN))[0]!.text).toBe(
      "You can't approve your own request; someone else must.",
    );
    expect((await say(bot, `/approve ${id}`, PAT))[0]!.text).toBe(
      "Approving /perms deny needs the admin role; you are member here.",
    );
    expect((await say(bot, `/approve ${id}`, CAL))[0]!.text).toBe(
      `Request ${id} (\`/perms deny mallory\`) is waiting for 1 more approval.`,
    );
    expect((await say(bot, `/approve ${id}`, CAL))[0]!.text).toBe(`You already approved request ${id}.`);
    const done = await say(bot, `/approve ${id}`, BOSS);
    expect(done.map((r) => r.text)).toEqual([
      `Running \`/perms deny mallory\` (request ${id}).`,
      "test:mallory is on the deny list.",
    ]);
    const policy = await bot.app.core.store.chats.getPolicy("test:c1");
    expect(policy?.deny).toEqual(["test:mallory"]);
    const audit = (await bot.app.core.store.audit.list("test:c1", { limit: 20 })).map((a) => `${a.actor} ${a.action}`);
    expect(audit).toEqual(
      expect.arrayContaining([
        "test:ann request.ask",
        "test:ann request.refuse",
        "test:pat request.refuse",
        "test:cal request.approve",
        "test:boss request.approve",
        "test:boss request.run",
        "test:ann perms.deny",
      ]),
    );
  });

  it("asks for confirmation where a chat turned it on with /perms confirm, and only there", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    await say(bot, "/perms platform-admins on", BOSS);
    expect((await say(bot, "/perms confirm whoami on", BOSS))[0]!.text).toMatch(/whoami/);
    const [ask] = await say(bot, "/whoami", PAT);
    expect(ask!.text).toContain("This will run `/whoami` as test:pat.");
    expect(ask!.buttons?.[0]?.[0]?.data).toBe(`/confirm ${idOf(ask)}`);
    const done = await say(bot, "/confirm", PAT);
    expect(done.at(-1)!.text).toContain("User: pat (`test:pat`)");
    // Another chat did not turn it on.
    expect((await say(bot, "/whoami", { ...PAT, chatId: "c2" }))[0]!.text).toContain("User: pat");
    const audit = (await bot.app.core.store.audit.list("test:c1", { limit: 20 })).map((a) => a.action);
    expect(audit).toEqual(expect.arrayContaining(["perms.confirm", "request.ask", "request.confirm", "request.run"]));
  });

  it("makes a skill command its manifest marks dangerous wait for an admin: a member's needs an admin's approval", {
    timeout: 120_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-danger-"));
    let skills: SkillsPlugin | undefined;
    try {
      const pkg = await writeSkill(join(dir, "pkg"), {
        name: "switchboard-skill-wipe",
        version: "1.0.0",
        entrySource: 'var skill = (() => ({ default: { commands: { wipe: () => "wiped" } } }))();\n',
        manifest: { commands: [{ name: "wipe", description: "wipes the cache", dangerous: true }] },
      });
      await writeLinked(join(dir, "data"), [pkg]);
      bot = await startTestBot({
        set: { "bot.owners": ["test:boss"], "bot.dataDir": join(dir, "data"), "skills.builtins": false },
        plugins: [async (core) => (skills = await createSkillsPlugin(pickServices(core, SKILLS_NEEDS)))],
      });
      await say(bot, "/perms platform-admins on", BOSS);
      await skills!.service.enable("test:c1", "wipe", "test:boss");
      expect(bot.app.core.commands.get("wipe")?.dangerous).toBe(true);
      // An admin confirms their own.
      const [adminAsk] = await say(bot, "/wipe", ANN);
      expect(adminAsk!.text).toContain("confirm with `/confirm ");
      expect(adminAsk!.text).not.toContain("/approve");
      expect((await say(bot, "/confirm", ANN)).at(-1)!.text).toBe("wiped");
      // A member's needs an admin's approval on top of their own confirmation.
      const [memberAsk] = await say(bot, "/wipe", PAT);
      expect(memberAsk!.text).toContain("1 other person with the admin role must approve");
      const id = idOf(memberAsk);
      expect((await say(bot, `/confirm ${id}`, PAT)).at(-1)!.text).toContain("is waiting for 1 more approval");
      expect((await say(bot, `/approve ${id}`, CAL)).at(-1)!.text).toBe("wiped");
    } finally {
      await bot?.stop();
      bot = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
