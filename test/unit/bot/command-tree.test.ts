import { describe, expect, it } from "vitest";
import {
  CommandRegistry,
  findNode,
  parseOptions,
  resolveCommand,
  usageOf,
  type CommandDef,
} from "../../../bot/commands.ts";
import { emptyPolicy } from "../../../bot/permissions.ts";
import { authorizePath, authorizeRoot } from "../../../bot/router/authorize.ts";
import { requirementOf } from "../../../bot/router/confirmations.ts";

const deploy: CommandDef = {
  name: "deploy",
  description: "Deploy",
  defaultRole: "member",
  source: "builtin",
  handler: () => "status",
  subcommands: [
    {
      name: "prod",
      description: "To production",
      defaultRole: "admin",
      confirm: true,
      args: [
        { name: "service", description: "which", type: "string", required: true, choices: ["api", "web"] },
        { name: "replicas", description: "how many", type: "integer" },
        { name: "force", description: "skip checks", type: "boolean", flag: true },
        { name: "note", description: "why", type: "string", rest: true },
      ],
      handler: () => "ok",
    },
    { name: "staging", description: "To staging", subcommands: [{ name: "reset", description: "Reset it" }] },
  ],
};

const options = (role: "owner" | "admin" | "member" | "guest", policy = emptyPolicy()) => ({
  role,
  policy,
  chatKind: "group" as const,
  defaultRoleOf: (_key: string, fallback: "owner" | "admin" | "member" | "guest") => fallback,
});

describe("command tree", () => {
  it("walks subcommands along the arguments and keeps what is left", () => {
    const r = resolveCommand(deploy, ["prod", "api", "3"], "prod api 3");
    expect(r.path).toEqual(["prod"]);
    expect(r.steps.map((s) => [s.key, s.defaultRole])).toEqual([
      ["deploy", "member"],
      ["deploy.prod", "admin"],
    ]);
    expect(r.args).toEqual(["api", "3"]);
    expect(r.rawArgs).toBe("api 3");
    // A subcommand without its own role needs its parent's.
    const deep = resolveCommand(deploy, ["staging", "reset"], "staging reset");
    expect(deep.steps.map((s) => s.defaultRole)).toEqual(["member", "member", "member"]);
    expect(resolveCommand(deploy, ["nope"], "nope").path).toEqual([]);
  });

  it("authorises every node: a member may run /deploy but not /deploy prod, and a policy can change either", () => {
    expect(authorizeRoot(deploy, options("member")).allowed).toBe(true);
    const prod = resolveCommand(deploy, ["prod", "api"], "prod api");
    const denied = authorizePath(prod, options("member"));
    expect(denied).toMatchObject({
      allowed: false,
      code: "E_PERMISSION_DENIED",
      required: "admin",
      label: "/deploy prod",
    });
    expect(authorizePath(prod, options("admin")).allowed).toBe(true);
    // Lowering the subcommand lets the member in; raising the command shuts every subcommand.
    const lowered = { ...emptyPolicy(), commandRoles: { "deploy.prod": "member" as const } };
    expect(authorizePath(prod, options("member", lowered)).allowed).toBe(true);
    const raised = { ...emptyPolicy(), commandRoles: { deploy: "owner" as const } };
    expect(authorizePath(prod, options("admin", raised))).toMatchObject({ allowed: false, label: "/deploy" });
  });

  it("parses typed arguments: choices, integers, flags and the rest of the line", () => {
    const prod = deploy.subcommands![0]!;
    expect(parseOptions(prod, { rawArgs: 'API 3 --force "hot fix" now', usage: "u" })).toEqual({
      service: "api",
      replicas: 3,
      force: true,
      note: '"hot fix" now',
    });
    expect(() => parseOptions(prod, { rawArgs: "db", usage: "u" })).toThrow(/<service> is one of api, web/);
    expect(() => parseOptions(prod, { rawArgs: "api three", usage: "u" })).toThrow(/whole number/);
    expect(() => parseOptions(prod, { rawArgs: "", usage: "/deploy prod <service>" })).toThrow(/Missing <service>/);
  });

  it("finds nodes by key or path, and writes their usage", () => {
    const r = new CommandRegistry();
    r.register(deploy);
    expect(findNode(r, "deploy.prod")?.key).toBe("deploy.prod");
    expect(findNode(r, "/deploy staging reset")?.key).toBe("deploy.staging.reset");
    expect(findNode(r, "deploy.nope")).toBeUndefined();
    expect(usageOf(deploy.subcommands![0]!, "/deploy prod")).toBe(
      "/deploy prod <api|web> [replicas] [--force] [note…]",
    );
    const info = r.infos()[0]!;
    expect(info.subcommands?.map((s) => [s.name, s.defaultRole])).toEqual([
      ["prod", "admin"],
      ["staging", "member"],
    ]);
  });
});

describe("what a node asks for before it runs", () => {
  const base = { key: "x", policy: emptyPolicy(), role: "member" as const, minimum: "member" as const };
  it("asks nothing by default, and a chat can only raise it", () => {
    expect(requirementOf({}, base)).toBeUndefined();
    expect(requirementOf({ confirm: true }, base)).toEqual({
      needsConfirm: true,
      approvals: 0,
      requiredRole: "member",
    });
    const raised = { ...emptyPolicy(), confirm: { x: true }, approvals: { x: 2 } };
    expect(requirementOf({ approvals: 1 }, { ...base, policy: raised })).toEqual({
      needsConfirm: true,
      approvals: 2,
      requiredRole: "member",
    });
    const lower = { ...emptyPolicy(), approvals: { x: 0 } };
    expect(requirementOf({ approvals: 2 }, { ...base, policy: lower })?.approvals).toBe(2);
  });

  it("makes a dangerous command wait for an admin: the requester's own confirmation if admin, else an admin's approval", () => {
    expect(requirementOf({ dangerous: true }, { ...base, role: "admin" })).toEqual({
      needsConfirm: true,
      approvals: 0,
      requiredRole: "member",
    });
    expect(requirementOf({ dangerous: true }, base)).toEqual({
      needsConfirm: true,
      approvals: 1,
      requiredRole: "admin",
    });
  });
});
