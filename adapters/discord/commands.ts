/**
 * Native Discord application commands from the router's command tree: each `CommandInfo` becomes a chat-input
 * command with typed options (string, integer, number, boolean, user), required options first, choices kept;
 * subcommands become real sub-commands (and a second level sub-command groups, Discord's deepest), and Discord's
 * length limits are applied so one odd command never fails the whole registration. Discord lets a command with
 * subcommands take no options of its own, so such a command's bare form is typed, not picked from the menu.
 */
import type { CommandArgSpec, CommandInfo } from "../../bot/index.ts";

/** Discord option types (`ApplicationCommandOptionType`). */
export const OPTION_TYPE = {
  subcommand: 1,
  subcommandGroup: 2,
  string: 3,
  integer: 4,
  boolean: 5,
  user: 6,
  number: 10,
} as const;

/** One option as Discord takes it. */
export interface DiscordCommandOption {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  choices?: Array<{ name: string; value: string | number }>;
  /** A sub-command's (or group's) own options. */
  options?: DiscordCommandOption[];
}

/** One chat-input command as `PUT /applications/{id}/commands` takes it. */
export interface DiscordCommand {
  type: 1;
  name: string;
  description: string;
  options: DiscordCommandOption[];
  /** 0 guild, 1 bot DM. */
  contexts: number[];
}

const MAX_OPTIONS = 25;
const MAX_CHOICES = 25;
const MAX_DESCRIPTION = 100;

function clip(text: string, max: number): string {
  const trimmed = text.trim();
  return trimmed.length <= max ? trimmed : `${trimmed.slice(0, max - 1)}…`;
}

/** An option name Discord accepts: lower case, 1–32 of letters, digits, `-` and `_`. */
export function optionName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^\p{Ll}\p{Lo}\p{N}_-]+/gu, "_")
    .slice(0, 32);
  return cleaned === "" ? "arg" : cleaned;
}

function toOption(arg: CommandArgSpec): DiscordCommandOption {
  const type = OPTION_TYPE[arg.type];
  const option: DiscordCommandOption = {
    type,
    name: optionName(arg.name),
    description: clip(arg.description === "" ? arg.name : arg.description, MAX_DESCRIPTION),
    required: arg.required === true,
  };
  if (arg.choices !== undefined && arg.choices.length > 0 && arg.type !== "boolean" && arg.type !== "user") {
    const choices: Array<{ name: string; value: string | number }> = [];
    for (const choice of arg.choices.slice(0, MAX_CHOICES)) {
      const value = arg.type === "string" ? choice.slice(0, 100) : Number(choice);
      if (typeof value === "number" && !Number.isFinite(value)) continue;
      choices.push({ name: clip(choice, 100), value });
    }
    if (choices.length > 0) option.choices = choices;
  }
  return option;
}

/** Typed options of one node: required first (Discord's rule), names deduplicated, at most 25. */
function optionsOf(args: readonly CommandArgSpec[]): DiscordCommandOption[] {
  // Discord requires required options before optional ones; a `rest` argument goes last of its group.
  const ordered = [...args.filter((a) => a.required === true), ...args.filter((a) => a.required !== true)];
  const seen = new Set<string>();
  const options: DiscordCommandOption[] = [];
  for (const arg of ordered.slice(0, MAX_OPTIONS)) {
    const option = toOption(arg);
    if (seen.has(option.name)) continue;
    seen.add(option.name);
    options.push(option);
  }
  return options;
}

/** A subcommand as a Discord sub-command (type 1), or a group (type 2) of sub-commands when it has its own. */
function toSubcommand(info: CommandInfo, depth: number): DiscordCommandOption {
  const description = clip(info.description === "" ? info.name : info.description, MAX_DESCRIPTION);
  if (info.subcommands !== undefined && info.subcommands.length > 0 && depth === 1) {
    return {
      type: OPTION_TYPE.subcommandGroup,
      name: optionName(info.name),
      description,
      options: info.subcommands.slice(0, MAX_OPTIONS).map((sub) => toSubcommand(sub, depth + 1)),
    };
  }
  return {
    type: OPTION_TYPE.subcommand,
    name: optionName(info.name),
    description,
    options: optionsOf(info.args ?? []),
  };
}

/** The Discord form of one command. */
export function toDiscordCommand(info: CommandInfo): DiscordCommand {
  const options =
    info.subcommands !== undefined && info.subcommands.length > 0
      ? info.subcommands.slice(0, MAX_OPTIONS).map((sub) => toSubcommand(sub, 1))
      : optionsOf(info.args ?? []);
  return {
    type: 1,
    name: info.name,
    description: clip(info.description === "" ? info.name : info.description, MAX_DESCRIPTION),
    options,
    contexts: [0, 1],
  };
}

/** The Discord form of a command list (Discord takes at most 100 chat-input commands). */
export function toDiscordCommands(infos: CommandInfo[]): DiscordCommand[] {
  return infos.slice(0, 100).map(toDiscordCommand);
}
