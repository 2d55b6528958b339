/**
 * Native command menus: `setMyCommands` for every chat, and a fuller list for chat administrators (commands
 * whose default role is admin or owner appear only there). Telegram allows `a-z0-9_` names up to 32 characters
 * and 1–256 character descriptions; other names are left out of the menu (they still work when typed).
 */
import type { BotCommand } from "grammy/types";
import type { CommandInfo, CommandRegistry } from "../../bot/index.ts";

/** A menu and the scope it is published in. */
export interface MenuPublication {
  scope: { type: "default" } | { type: "all_chat_administrators" };
  commands: BotCommand[];
}

const TELEGRAM_NAME = /^[a-z0-9_]{1,32}$/;

/**
 * The menus to publish for these commands (the command tree's `infos()`). Admin-only commands go to the
 * administrators' menu only; a command's subcommands are named in its description (Telegram menus are flat).
 */
export function menusFor(infos: CommandInfo[], registry?: CommandRegistry): MenuPublication[] {
  const toCommand = (info: CommandInfo): BotCommand => {
    const about = info.description.trim() || info.name;
    const subs = info.subcommands?.map((s) => s.name).join(", ");
    return { command: info.name, description: (subs === undefined ? about : `${about} (${subs})`).slice(0, 256) };
  };
  const usable = infos.filter((i) => TELEGRAM_NAME.test(i.name)).slice(0, 100);
  const isPrivileged = (info: CommandInfo) => {
    const role = info.defaultRole ?? registry?.get(info.name)?.defaultRole;
    return role === "admin" || role === "owner";
  };
  return [
    { scope: { type: "default" }, commands: usable.filter((i) => !isPrivileged(i)).map(toCommand) },
    { scope: { type: "all_chat_administrators" }, commands: usable.map(toCommand) },
  ];
}
