import { GrammyError, HttpError } from "grammy";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { CommandRegistry, isSwitchboardError } from "../../../../bot/index.ts";
import { menusFor } from "../../../../adapters/telegram/commands.ts";
import {
  isFatalTelegramError,
  isNotModified,
  retryAfterMsOf,
  toTelegramError,
} from "../../../../adapters/telegram/errors.ts";
import { keyboardOf, renderTelegram } from "../../../../adapters/telegram/render.ts";
import { RoleCache, roleOfStatus } from "../../../../adapters/telegram/roles.ts";
import { parseTelegramHtml } from "../../../stand-ins/telegram/html.ts";

const grammyError = (code: number, description: string, { method = "sendMessage", parameters = {} } = {}) =>
  new GrammyError(`Call to '${method}' failed!`, { ok: false, error_code: code, description, parameters }, method, {});

describe("telegram errors", () => {
  it("reads retry_after from a 429 and nothing from other errors", () => {
    expect(
      retryAfterMsOf(grammyError(429, "Too Many Requests", { method: "sendMessage", parameters: { retry_after: 3 } })),
    ).toBe(3_000);
    expect(retryAfterMsOf(grammyError(400, "Bad Request"))).toBeUndefined();
    expect(retryAfterMsOf(new Error("x"))).toBeUndefined();
  });

  it("maps every failure to E_ADAPTER, saying which layer failed", () => {
    const refused = toTelegramError(grammyError(403, "Forbidden: bot was blocked by the user"), "send");
    expect(isSwitchboardError(refused)).toBe(true);
    expect(refused.code).toBe("E_ADAPTER");
    expect(refused.details).toMatchObject({ layer: "platform", method: "sendMessage", errorCode: 403 });
    expect(refused.chatMessage).toMatch(/blocked or removed/);
    expect(
      toTelegramError(new HttpError("Network request failed", new Error("ECONNRESET")), "send").details,
    ).toMatchObject({ layer: "network" });
    expect(toTelegramError(new Error("boom"), "render").details).toMatchObject({ layer: "adapter" });
  });

  it("knows fatal token errors and 'not modified' edits", () => {
    expect(isFatalTelegramError(grammyError(401, "Unauthorized", { method: "getMe" }))).toBe(true);
    expect(isFatalTelegramError(grammyError(502, "Bad Gateway", { method: "getUpdates" }))).toBe(false);
    expect(isNotModified(grammyError(400, "Bad Request: message is not modified: same"))).toBe(true);
  });
});

describe("telegram render", () => {
  it("renders HTML the Bot API accepts, splitting at 4096 visible characters", () => {
    const text = `**<title> & co**\n${"x ".repeat(5_000)}`;
    const pieces = renderTelegram({ text });
    expect(pieces.length).toBe(3);
    for (const p of pieces) expect(parseTelegramHtml(p).length).toBeLessThanOrEqual(4096);
    expect(parseTelegramHtml(pieces[0]!).startsWith("<title> & co")).toBe(true);
  });

  it("never sends an empty message", () => {
    expect(renderTelegram({ text: "   \n\n" })).toEqual(["…"]);
  });

  it("builds an inline keyboard and refuses callback data over 64 bytes", () => {
    expect(keyboardOf({ text: "x", buttons: [[{ label: "Yes", data: "/confirm 1" }]] })).toEqual({
      inline_keyboard: [[{ text: "Yes", callback_data: "/confirm 1" }]],
    });
    expect(keyboardOf({ text: "x" })).toBeUndefined();
    expect(() => keyboardOf({ text: "x", buttons: [[{ label: "Long", data: "é".repeat(40) }]] })).toThrow(/64 bytes/);
  });
});

describe("telegram command menus", () => {
  it("keeps admin commands for the administrators' menu and leaves out names Telegram refuses", () => {
    const registry = new CommandRegistry();
    registry.register({
      name: "help",
      description: "Help",
      defaultRole: "guest",
      source: "builtin",
      handler: () => "",
    });
    registry.register({
      name: "perms",
      description: "Permissions",
      defaultRole: "admin",
      source: "builtin",
      handler: () => "",
    });
    registry.register({
      name: "my-skill",
      description: "Dashed",
      defaultRole: "member",
      source: "skill:x",
      handler: () => "",
    });
    const [everyone, admins] = menusFor(registry.infos(), registry);
    expect(everyone!.commands.map((c) => c.command)).toEqual(["help"]);
    expect(admins!.scope).toEqual({ type: "all_chat_administrators" });
    expect(admins!.commands.map((c) => c.command)).toEqual(["help", "perms"]);
  });
});

describe("telegram roles", () => {
  it("maps member statuses to platform roles", () => {
    expect(roleOfStatus("creator")).toBe("owner");
    expect(roleOfStatus("administrator")).toBe("admin");
    expect(roleOfStatus("member")).toBe("member");
    expect(roleOfStatus("restricted")).toBe("member");
    expect(roleOfStatus("left")).toBeUndefined();
    expect(roleOfStatus("kicked")).toBeUndefined();
  });

  it("caches look-ups, shares them through the ephemeral store, and fails closed", async () => {
    let now = 0;
    let calls = 0;
    const kv = new Keyv();
    const make = (fail = false) =>
      new RoleCache({
        ttlMs: 1_000,
        kv,
        now: () => now,
        fetchStatus: async () => {
          calls++;
          if (fail) throw new Error("400 member not found");
          return "administrator";
        },
      });
    const a = make();
    expect(await a.roleOf("-1", "5")).toBe("admin");
    expect(await a.roleOf("-1", "5")).toBe("admin");
    expect(calls).toBe(1);
    expect(await make(true).roleOf("-1", "5")).toBe("admin"); // from the shared store, no API call
    expect(calls).toBe(1);
    expect(await make(true).roleOf("-1", "6")).toBeUndefined();
    now = 5_000;
    expect(await a.roleOf("-1", "5")).toBe("admin");
  });
});
