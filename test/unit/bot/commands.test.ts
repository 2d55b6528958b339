import { describe, expect, it } from "vitest";
import { CommandRegistry, editDistance, parseCommandLine, splitArgs, type CommandDef } from "../../../bot/index.ts";

const def = (name: string, extra: Partial<CommandDef> = {}): CommandDef => ({
  name,
  description: name,
  defaultRole: "member",
  source: "builtin",
  handler: () => undefined,
  ...extra,
});

describe("command lines", () => {
  it("parses names, bot mentions and quoted arguments", () => {
    expect(parseCommandLine("/Deploy web \"two words\" 'x y' --now")).toEqual({
      name: "deploy",
      args: ["web", "two words", "x y", "--now"],
      rawArgs: "web \"two words\" 'x y' --now",
    });
    expect(parseCommandLine("/help@MyBot", "mybot")).toEqual({ name: "help", args: [], rawArgs: "" });
    expect(parseCommandLine("/help@OtherBot", "mybot")).toBeUndefined();
    expect(parseCommandLine("hello /help")).toBeUndefined();
    expect(parseCommandLine("/")).toBeUndefined();
    expect(splitArgs('a "b \\" c" d')).toEqual(["a", 'b " c', "d"]);
  });

  it("parses a bare /name (the common case, read without a regex) as the full grammar does", () => {
    expect(parseCommandLine("/WhoAmI")).toEqual({ name: "whoami", args: [], rawArgs: "" });
    expect(parseCommandLine("/a-b_9")).toEqual({ name: "a-b_9", args: [], rawArgs: "" });
    expect(parseCommandLine(`/${"x".repeat(64)}`)).toEqual({ name: "x".repeat(64), args: [], rawArgs: "" });
    expect(parseCommandLine(`/${"x".repeat(65)}`)).toBeUndefined();
    expect(parseCommandLine("/who.ami")).toBeUndefined();
    expect(parseCommandLine("/whoami ")).toEqual({ name: "whoami", args: [], rawArgs: "" });
    expect(parseCommandLine("/é")).toBeUndefined();
  });
});

describe("registry", () => {
  it("refuses a second command of the same name, naming who has it", () => {
    const r = new CommandRegistry();
    r.register(def("deploy"));
    expect(() => r.register(def("deploy", { source: "skill:ops" }))).toThrow(/already provided by builtin/);
    expect(() => r.register(def("Bad Name"))).toThrow(/invalid command name/);
  });

  it("suggests near misses, best first, skipping hidden and unavailable commands", () => {
    const r = new CommandRegistry();
    for (const n of ["status", "start", "stats", "help"]) r.register(def(n));
    r.register(def("secret", { hidden: true }));
    r.register(def("stash", { availableIn: (chat) => chat === "x:1" }));
    expect(r.suggest("statsu")).toContain("stats");
    expect(r.suggest("stauts")).toEqual(["stats", "start", "status"]); // stats is one edit away; start and status two, by name
    expect(r.suggest("secre")).toEqual([]);
    expect(r.suggest("stsh", "x:2")).not.toContain("stash");
    expect(r.suggest("stsh", "x:1")).toContain("stash");
    expect(r.suggest("zzzzzz")).toEqual([]);
  });

  it("notifies listeners on change and lists visible commands with their arguments", () => {
    const r = new CommandRegistry();
    let changes = 0;
    r.onChange(() => changes++);
    r.register(def("b", { args: [{ name: "n", description: "n", type: "integer", required: true }] }));
    r.register(def("a", { hidden: true }));
    r.unregister("a");
    expect(changes).toBe(3);
    expect(r.infos()).toEqual([
      {
        name: "b",
        description: "b",
        defaultRole: "member",
        args: [{ name: "n", description: "n", type: "integer", required: true }],
      },
    ]);
  });

  it("computes edit distance with a cut-off", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("kitten", "sitting", 2)).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
  });
});
