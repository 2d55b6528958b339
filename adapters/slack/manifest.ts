/**
 * The Slack app manifest. Slack has no API to register slash commands, so `switchboard slack manifest` prints a
 * manifest with every command in the registry (plus the umbrella `/switchboard <command>`), the request URLs, the
 * bot scopes and the event subscriptions; paste it into "Create New App → From a manifest".
 */
import type { CommandArgSpec, CommandInfo } from "../../bot/index.ts";

/** Bot token scopes the adapter uses, and no more. */
export const SLACK_BOT_SCOPES = [
  "app_mentions:read", // app_mention events
  "chat:write", // replies, edits (chat.postMessage, chat.update, chat.delete, chat.postEphemeral)
  "chat:write.public", // answer slash commands in public channels the bot has not joined
  "commands", // slash commands
  "files:read", // read files shared with a message (url_private) as attachments
  "files:write", // replies with a file (files.getUploadURLExternal, files.completeUploadExternal)
  "im:history", // DMs (message.im)
  "im:read",
  "im:write",
  "reactions:read", // reaction_added / reaction_removed (👍/👎 as feedback, reaction listeners)
  "users:read", // users.info: workspace owner/admin for permissions
] as const;

/** Bot events the adapter subscribes to. */
export const SLACK_BOT_EVENTS = ["app_mention", "message.im", "reaction_added", "reaction_removed"] as const;

/** Slack's own slash commands: an app cannot take these names, so they get the `sb-` prefix. */
export const SLACK_RESERVED_COMMANDS: ReadonlySet<string> = new Set([
  "active",
  "apps",
  "archive",
  "away",
  "call",
  "collapse",
  "dm",
  "dnd",
  "expand",
  "feed",
  "feedback",
  "invite",
  "join",
  "kick",
  "leave",
  "me",
  "msg",
  "mute",
  "open",
  "prefs",
  "remind",
  "remove",
  "rename",
  "search",
  "shortcuts",
  "shrug",
  "star",
  "status",
  "topic",
  "who",
]);

/** The prefix a reserved name gets when no prefix is configured. */
export const RESERVED_PREFIX = "sb-";

/** The slash command (with `/`) a registry command is published as. */
export function slashNameOf(name: string, commandPrefix: string): string {
  if (commandPrefix === "" && SLACK_RESERVED_COMMANDS.has(name)) return `/${RESERVED_PREFIX}${name}`;
  return `/${commandPrefix}${name}`;
}

/** Options for `buildSlackManifest`. */
export interface SlackManifestOptions {
  /** Shown in Slack (the bot's name). */
  appName: string;
  description?: string;
  commands: CommandInfo[];
  /** Socket Mode apps need no request URLs. */
  socketMode: boolean;
  /** HTTP mode: the public URL Slack posts to (`https://bot.example.com/slack/events`). */
  requestUrl?: string;
  commandPrefix: string;
  umbrellaCommand: string;
}

/** Build the manifest object (print it as YAML or JSON). */
export function buildSlackManifest(o: SlackManifestOptions): Record<string, unknown> {
  const url = o.socketMode ? undefined : o.requestUrl;
  const withUrl = url === undefined ? {} : { url };
  const commands = [
    {
      command: `/${o.umbrellaCommand}`,
      ...withUrl,
      description: `Run any ${o.appName} command`,
      usage_hint: "<command> [arguments]  (try: help)",
      should_escape: false,
    },
    ...o.commands
      .filter((c) => c.name !== o.umbrellaCommand)
      .map((c) => ({
        command: slashNameOf(c.name, o.commandPrefix),
        ...withUrl,
        description: clip(c.description || c.name, 2_000),
        ...(hintOf(c) === "" ? {} : { usage_hint: clip(hintOf(c), 1_000) }),
        should_escape: false,
      })),
  ];
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name: clip(o.appName, 35),
      description: clip(o.description ?? "Chat-ops: commands, skills and schedules", 140),
    },
    features: {
      app_home: { home_tab_enabled: false, messages_tab_enabled: true, messages_tab_read_only_enabled: false },
      bot_user: { display_name: clip(o.appName, 80), always_online: true },
      slash_commands: commands,
    },
    oauth_config: { scopes: { bot: [...SLACK_BOT_SCOPES] } },
    settings: {
      event_subscriptions: { ...(url === undefined ? {} : { request_url: url }), bot_events: [...SLACK_BOT_EVENTS] },
      interactivity: { is_enabled: true, ...(url === undefined ? {} : { request_url: url }) },
      org_deploy_enabled: false,
      socket_mode_enabled: o.socketMode,
      token_rotation_enabled: false,
    },
  };
}

/** A command's usage hint: its subcommands (`search|info|list …`), else its typed arguments. */
export function hintOf(info: CommandInfo): string {
  if (info.subcommands !== undefined && info.subcommands.length > 0) {
    return `${info.subcommands.map((s) => s.name).join("|")} …`;
  }
  return usageOf(info.args);
}

/** `<name> [optional] <rest…>` from typed arguments. */
export function usageOf(args: CommandArgSpec[] | undefined): string {
  return (args ?? [])
    .map((a) => {
      const label = `${a.name}${a.rest === true ? "…" : ""}${a.choices === undefined ? "" : `: ${a.choices.join("|")}`}`;
      return a.required === true ? `<${label}>` : `[${label}]`;
    })
    .join(" ");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
