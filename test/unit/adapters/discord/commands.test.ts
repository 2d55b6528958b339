import { describe, expect, it } from "vitest";
import { optionName, toDiscordCommand, toDiscordCommands } from "../../../../adapters/discord/commands.ts";

describe("toDiscordCommand", () => {
  it("maps argument types to Discord option types with required options first", () => {
    const command = toDiscordCommand({
      name: "deploy",
      description: "Deploy a service",
      args: [
        { name: "dry", description: "Dry run", type: "boolean" },
        { name: "service", description: "Which", type: "string", required: true, choices: ["web", "api"] },
        { name: "count", description: "How many", type: "integer", choices: ["1", "2", "x"] },
        { name: "ratio", description: "Ratio", type: "number" },
        { name: "who", description: "Who", type: "user" },
      ],
    });
    expect(command).toEqual({
      type: 1,
      name: "deploy",
      description: "Deploy a service",
      contexts: [0, 1],
      options: [
        {
          type: 3,
          name: "service",
          description: "Which",
          required: true,
          choices: [
            { name: "web", value: "web" },
            { name: "api", value: "api" },
          ],
        },
        { type: 5, name: "dry", description: "Dry run", required: false },
        {
          type: 4,
          name: "count",
          description: "How many",
          required: false,
          choices: [
            { name: "1", value: 1 },
            { name: "2", value: 2 },
          ],
        },
        { type: 10, name: "ratio", description: "Ratio", required: false },
        { type: 6, name: "who", description: "Who", required: false },
      ],
    });
  });

  it("clips long descriptions to 100 characters and fills empty ones", () => {
    const command = toDiscordCommand({
      name: "x",
      description: "d".repeat(300),
      args: [{ name: "A b", description: "", type: "string" }],
    });
    expect(command.description).toHaveLength(100);
    expect(command.options[0]).toMatchObject({ name: "a_b", description: "A b" });
  });

  it("keeps at most 100 commands and 25 options", () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ name: `c${i}`, description: "d" }));
    expect(toDiscordCommands(many)).toHaveLength(100);
    const args = Array.from({ length: 30 }, (_, i) => ({ name: `a${i}`, description: "d", type: "string" as const }));
    expect(toDiscordCommand({ name: "x", description: "d", args }).options).toHaveLength(25);
  });

  it("makes option names Discord accepts", () => {
    expect(optionName("Max Count!")).toBe("max_count_");
    expect(optionName("")).toBe("arg");
  });

  it("publishes subcommands as sub-commands with their own typed options, and a second level as groups", () => {
    const command = toDiscordCommand({
      name: "deploy",
      description: "Deploy",
      args: [{ name: "ignored", description: "a command with subcommands takes none of its own", type: "string" }],
      subcommands: [
        {
          name: "prod",
          description: "To production",
          args: [{ name: "replicas", description: "How many", type: "integer", required: true }],
        },
        { name: "staging", description: "Staging", subcommands: [{ name: "reset", description: "Reset it" }] },
      ],
    });
    expect(command.options).toEqual([
      {
        type: 1,
        name: "prod",
        description: "To production",
        options: [{ type: 4, name: "replicas", description: "How many", required: true }],
      },
      {
        type: 2,
        name: "staging",
        description: "Staging",
        options: [{ type: 1, name: "reset", description: "Reset it", options: [] }],
      },
    ]);
  });
});
