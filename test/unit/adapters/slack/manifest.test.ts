import { describe, expect, it } from "vitest";
import {
  buildSlackManifest,
  SLACK_BOT_EVENTS,
  SLACK_BOT_SCOPES,
  usageOf,
} from "../../../../adapters/slack/manifest.ts";
import { commandFromSlash } from "../../../../adapters/slack/normalise.ts";

const commands = [
  {
    name: "help",
    description: "List commands",
    args: [{ name: "command", description: "x", type: "string" as const }],
  },
  { name: "status", description: "Health" },
  {
    name: "perms",
    description: "Permissions",
    args: [
      { name: "action", description: "a", type: "string" as const, required: true, choices: ["show", "set"] },
      { name: "rest", description: "r", type: "string" as const, rest: true },
    ],
  },
];

describe("Slack app manifest", () => {
  it("lists every command, the umbrella command, scopes, events and request URLs (HTTP mode)", () => {
    const m = buildSlackManifest({
      appName: "switchboard",
      commands,
      socketMode: false,
      requestUrl: "https://bot.example.com/slack/events",
      commandPrefix: "",
      umbrellaCommand: "switchboard",
    }) as {
      features: { slash_commands: Array<{ command: string; url?: string; usage_hint?: string }> };
      oauth_config: { scopes: { bot: string[] } };
      settings: {
        event_subscriptions: { request_url?: string; bot_events: string[] };
        interactivity: { request_url?: string };
        socket_mode_enabled: boolean;
      };
    };
    const names = m.features.slash_commands.map((c) => c.command);
    expect(names).toEqual(["/switchboard", "/help", "/sb-status", "/perms"]);
    for (const c of m.features.slash_commands) expect(c.url).toBe("https://bot.example.com/slack/events");
    expect(m.features.slash_commands.find((c) => c.command === "/perms")!.usage_hint).toBe(
      "<action: show|set> [rest…]",
    );
    expect(m.oauth_config.scopes.bot).toEqual([...SLACK_BOT_SCOPES]);
    expect(m.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining(["commands", "chat:write", "users:read", "app_mentions:read", "im:history"]),
    );
    expect(m.settings.event_subscriptions).toEqual({
      request_url: "https://bot.example.com/slack/events",
      bot_events: [...SLACK_BOT_EVENTS],
    });
    expect(m.settings.interactivity.request_url).toBe("https://bot.example.com/slack/events");
    expect(m.settings.socket_mode_enabled).toBe(false);
    // Every published name comes back to the registry command it stands for.
    for (const [i, c] of m.features.slash_commands.slice(1).entries()) {
      expect(commandFromSlash(c.command, "", { commandPrefix: "", umbrellaCommand: "switchboard" }).command?.name).toBe(
        commands[i]!.name,
      );
    }
  });

  it("has no URLs in Socket Mode and applies a configured prefix", () => {
    const m = buildSlackManifest({
      appName: "ops",
      commands,
      socketMode: true,
      requestUrl: "https://ignored",
      commandPrefix: "ops-",
      umbrellaCommand: "ops",
    }) as {
      features: { slash_commands: Array<{ command: string; url?: string }> };
      settings: { event_subscriptions: Record<string, unknown>; socket_mode_enabled: boolean };
    };
    expect(m.features.slash_commands.map((c) => c.command)).toEqual(["/ops", "/ops-help", "/ops-status", "/ops-perms"]);
    expect(m.features.slash_commands.every((c) => c.url === undefined)).toBe(true);
    expect(m.settings.event_subscriptions.request_url).toBeUndefined();
    expect(m.settings.socket_mode_enabled).toBe(true);
  });

  it("writes usage hints from typed arguments", () => {
    expect(usageOf(undefined)).toBe("");
    expect(usageOf([{ name: "n", description: "", type: "integer", required: true }])).toBe("<n>");
  });
});
