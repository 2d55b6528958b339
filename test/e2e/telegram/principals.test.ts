/**
 * People named in config (`permissions.principals`), over the real Telegram adapter and its stand-in plus a second
 * platform (the test adapter) in the same bot: the role granted to the person, the DM allow list, a chat's deny
 * list, inbound rate limits, LLM quotas and usage follow the person on both platforms; platform admin rights stay
 * in the chat that grants them; someone not named gets none of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pickServices, type Core } from "../../../bot/index.ts";
import { createLlmPlugin, LLM_NEEDS } from "../../../llm/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";
import type { SayOptions } from "../../helpers/test-adapter.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

let bot: TelegramBot;
let openai: OpenAiStandIn;
let core!: Core;
const other = new TestAdapter("chat2");

/** Say `text` on the second platform and answer its last reply in that chat. */
async function say2(text: string, o: SayOptions): Promise<string> {
  const before = other.textsIn(o.chatId).length;
  await core.router.process(other.inbound(text, o));
  const texts = other.textsIn(o.chatId);
  return texts.length > before ? texts.at(-1)! : "(no answer)";
}

/** Say `text` on Telegram and wait for an answer matching `until` in that chat. */
async function sayTg(
  text: string,
  { chatId, userId, chatType, until }: { chatId: number; userId: number; chatType?: "group"; until: RegExp },
): Promise<string> {
  const before = bot.standIn.messagesIn(chatId).length;
  bot.standIn.queueMessage({ chatId, userId, text, ...(chatType === undefined ? {} : { chatType }) });
  const answer = () =>
    bot.standIn
      .messagesIn(chatId)
      .slice(before)
      .map((m) => m.text)
      .find((t) => until.test(t));
  await bot.standIn.waitFor(() => answer() !== undefined, 15_000, `${text} on telegram`);
  return answer()!;
}

const ADA_DM: SayOptions = { userId: "ada", chatKind: "dm", chatId: "dm-ada" };
const BEA_DM: SayOptions = { userId: "bea", chatKind: "dm", chatId: "dm-bea" };

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  bot = await startTelegramBot({
    set: {
      "bot.owners": ["telegram:1", "chat2:boss"],
      "permissions.newChats": "platform-admins",
      "permissions.dm": "allowlist",
      "permissions.principals": {
        ada: { identities: ["telegram:7", "chat2:ada"], role: "admin" },
        cy: { identities: ["telegram:9", "chat2:cy"] },
      },
      "llm.models": [{ name: "main", provider: "openai", model: "stand-main", baseUrl: openai.baseUrl, apiKey: "k" }],
      "llm.editIntervalMs": 0,
      // One turn of the stand-in (10 + 5 tokens) reaches the person's cap.
      "llm.quotas.perUser": { dailyTokens: 12 },
      "limits.perUser": { burst: 14, perMinute: 1 },
      "limits.perChat": { burst: 1_000, perMinute: 100_000 },
    },
    plugins: [async (c) => createLlmPlugin(pickServices(c, LLM_NEEDS))],
    beforeStart(c) {
      core = c;
    },
  });
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await openai?.close();
});

describe("a person named in config, on Telegram and a second platform", () => {
  it("lets the DM allow list, the person's role and a chat's deny list follow the person", async () => {
    // The DM allow list is closed to everyone not on it, on every platform.
    expect(await say2("/whoami", ADA_DM)).toBe("Direct messages to this bot are closed.");
    await sayTg("/perms allow telegram:7", { chatId: 1, userId: 1, until: /allow/i });
    // Allowed by the identity on Telegram, the person is let in on the second platform too; someone else is not.
    const whoami = await say2("/whoami", ADA_DM);
    expect(whoami).toContain("Person: `principal:ada` (`telegram:7`, `chat2:ada`)");
    expect(await say2("/whoami", BEA_DM)).toBe("Direct messages to this bot are closed.");
    // The role granted to the person holds in a group of either platform where they have no platform role.
    const group: SayOptions = { userId: "ada", chatKind: "group", chatId: "g2" };
    expect(await say2("/whoami", group)).toMatch(/Role here: \*\*admin\*\*/);
    expect(await say2("/whoami", { userId: "bea", chatKind: "group", chatId: "g2" })).toMatch(
      /Role here: \*\*guest\*\*/,
    );
    bot.standIn.setMember(-50, 7, "member");
    expect(await sayTg("/whoami", { chatId: -50, userId: 7, chatType: "group", until: /Role here/ })).toMatch(
      /Role here: \**admin/,
    );
    // A chat's deny list naming one identity, or the person, refuses every identity of theirs there.
    await say2("/perms deny telegram:7", { userId: "boss", chatKind: "group", chatId: "g2" });
    expect(await say2("/whoami", group)).toBe("You are not allowed to use this bot here.");
    await say2("/perms unlist telegram:7", { userId: "boss", chatKind: "group", chatId: "g2" });
    await say2("/perms deny principal:ada", { userId: "boss", chatKind: "group", chatId: "g2" });
    expect(await say2("/whoami", group)).toBe("You are not allowed to use this bot here.");
    // A principal config does not name is refused, and a person cannot deny themselves by their principal.
    expect(await say2("/perms deny principal:nobody", { userId: "boss", chatKind: "group", chatId: "g2" })).toMatch(
      /^No one is named nobody in the config \(permissions\.principals\)\./,
    );
    expect(
      await say2("/perms deny principal:cy", { userId: "cy", chatKind: "group", chatId: "g4", role: "admin" }),
    ).toMatch(/^You can't deny yourself\./);
  }, 90_000);

  it("keeps platform admin rights in the chat that grants them", async () => {
    // cy is named with no role: a Telegram group admin there, a guest in the second platform's group.
    bot.standIn.setMember(-60, 9, "administrator");
    expect(await sayTg("/whoami", { chatId: -60, userId: 9, chatType: "group", until: /Role here/ })).toMatch(
      /Role here: \**admin/,
    );
    expect(await say2("/whoami", { userId: "cy", chatKind: "group", chatId: "g3" })).toMatch(
      /Role here: \*\*guest\*\*/,
    );
  }, 60_000);

  it("counts LLM usage and the quota once for the person, on both platforms", async () => {
    await core.router.process(other.inbound("/ai on", ADA_DM));
    await sayTg("/ai on", { chatId: 7, userId: 7, until: /AI conversation is on/ });
    openai.script.push("stand-main", { kind: "text", text: "Hello from Telegram.", usage: { input: 10, output: 5 } });
    await sayTg("hi", { chatId: 7, userId: 7, until: /Hello from Telegram/ });
    // The answer is shown before its usage is stored: wait for the row.
    const usageRows = async () =>
      (
        await core.store.sql.query<{ user_key: unknown }>(
          "SELECT user_key FROM llm_usage WHERE chat_key <> '*' ORDER BY user_key",
        )
      ).rows.map((r) => String(r.user_key));
    await expect.poll(usageRows).toEqual(["principal:ada"]);
    // The cap was reached on Telegram: the same person is refused on the other platform; someone else is not.
    expect(await say2("hello again", ADA_DM)).toMatch(/^You have used the daily language-model quota \(15 of 12/);
    expect(await usageRows()).toEqual(["principal:ada"]);
  }, 60_000);

  it("gives the person one inbound budget across platforms", async () => {
    // Burst 14 per person; cy has sent two messages so far. Six more on Telegram leave six for the other platform
    // (thirteen if each identity had a budget of its own).
    const cy2: SayOptions = { userId: "cy", chatKind: "group", chatId: "g3" };
    for (let i = 0; i < 6; i++)
      await sayTg(`/whoami ${i}`, { chatId: -60, userId: 9, chatType: "group", until: /Role here/ });
    let answered = 0;
    for (let i = 0; i < 14; i++) {
      const answer = await say2("/whoami", cy2);
      if (answer === "You're sending messages too fast; slow down a little.") break;
      expect(answer).toContain("Platform: chat2");
      answered++;
    }
    expect(answered).toBeGreaterThanOrEqual(5);
    expect(answered).toBeLessThanOrEqual(7);
    // Someone else is not held back by it.
    expect(await say2("/whoami", { userId: "bea", chatKind: "group", chatId: "g3" })).toContain("Platform: chat2");
  }, 90_000);
});
