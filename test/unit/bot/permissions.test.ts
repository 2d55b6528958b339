import { describe, expect, it } from "vitest";
import {
  checkAccess,
  checkCommand,
  emptyPolicy,
  listNames,
  peopleFromConfig,
  resolveRole,
  roleAtLeast,
  type ChatPolicy,
  type PermissionSettings,
  type Subject,
} from "../../../bot/index.ts";

const settings: PermissionSettings = { owners: new Set(["telegram:1"]), defaultDm: "open" };
const subject = (o: Partial<Subject> = {}): Subject => ({
  userKey: "telegram:2",
  platformRole: "member",
  chatKind: "group",
  isBot: false,
  ...o,
});

describe("roles", () => {
  it("orders owner > admin > member > guest and rejects unknown roles", () => {
    expect(roleAtLeast("owner", "admin")).toBe(true);
    expect(roleAtLeast("member", "admin")).toBe(false);
    expect(roleAtLeast("guest", "guest")).toBe(true);
    expect(roleAtLeast("superuser", "guest")).toBe(false);
    expect(roleAtLeast("admin", "superuser")).toBe(false);
  });

  it("makes config owners owners, platform admins admins, and an unknown platform role a guest", () => {
    expect(resolveRole(settings, undefined, subject({ userKey: "telegram:1", platformRole: undefined }))).toBe("owner");
    expect(resolveRole(settings, undefined, subject({ platformRole: "owner" }))).toBe("admin");
    expect(resolveRole(settings, undefined, subject({ platformRole: "member" }))).toBe("member");
    expect(resolveRole(settings, undefined, subject({ platformRole: undefined }))).toBe("guest");
    expect(resolveRole(settings, undefined, subject({ platformRole: undefined, chatKind: "dm" }))).toBe("member");
    expect(resolveRole(settings, undefined, subject({ platformRole: "admin", isBot: true }))).toBe("guest");
  });

  it("applies per-chat overrides and the platform-admin switch", () => {
    const policy: ChatPolicy = {
      ...emptyPolicy(),
      roleOverrides: { "telegram:2": "admin" },
      trustPlatformAdmins: false,
    };
    expect(resolveRole(settings, policy, subject())).toBe("admin");
    expect(resolveRole(settings, policy, subject({ userKey: "telegram:3", platformRole: "admin" }))).toBe("member");
    const corrupt = { ...emptyPolicy(), roleOverrides: { "telegram:2": "root" } } as unknown as ChatPolicy;
    expect(resolveRole(settings, corrupt, subject())).toBe("guest");
    const ownerOverride = { ...emptyPolicy(), roleOverrides: { "telegram:2": "owner" } } as ChatPolicy;
    expect(resolveRole(settings, ownerOverride, subject())).toBe("guest");
  });
});

describe("commands", () => {
  const cmd = (defaultRole: "admin" | "member" | "guest", skill?: string) => ({ name: "deploy", defaultRole, skill });

  it("denies privileged commands when the chat has no policy, except to owners", () => {
    expect(checkCommand("admin", undefined, cmd("admin"))).toMatchObject({ allowed: false, code: "E_NO_POLICY" });
    expect(checkCommand("owner", undefined, cmd("admin")).allowed).toBe(true);
    expect(checkCommand("member", undefined, cmd("member")).allowed).toBe(true);
  });

  it("uses the policy's minimum for the command, then for its skill, then the default", () => {
    const policy: ChatPolicy = { ...emptyPolicy(), commandRoles: { "skill:ops": "admin" } };
    expect(checkCommand("member", policy, cmd("member", "ops"))).toMatchObject({ allowed: false, required: "admin" });
    policy.commandRoles.deploy = "member";
    expect(checkCommand("member", policy, cmd("admin", "ops")).allowed).toBe(true);
  });

  it("fails closed on an unknown minimum role", () => {
    const policy = { ...emptyPolicy(), commandRoles: { deploy: "everyone" } } as unknown as ChatPolicy;
    expect(checkCommand("admin", policy, cmd("member"))).toMatchObject({ allowed: false, code: "E_PERMISSION_DENIED" });
  });
});

describe("access", () => {
  it("applies deny lists (but never to owners)", () => {
    const policy: ChatPolicy = { ...emptyPolicy(), deny: ["telegram:2", "telegram:1"] };
    expect(checkAccess(settings, { policy }, subject())).toMatchObject({
      allowed: false,
      code: "E_USER_DENIED",
    });
    expect(checkAccess(settings, { policy }, subject({ userKey: "telegram:1" })).allowed).toBe(true);
  });

  it("applies the DM policy: open, allowlist, closed", () => {
    const dm = subject({ chatKind: "dm" });
    expect(checkAccess(settings, {}, dm).allowed).toBe(true);
    const allowlist: ChatPolicy = { ...emptyPolicy(), dm: "allowlist", allow: ["telegram:5"] };
    expect(checkAccess(settings, { globalPolicy: allowlist }, dm)).toMatchObject({
      allowed: false,
      code: "E_DM_CLOSED",
    });
    expect(
      checkAccess(settings, { globalPolicy: allowlist }, subject({ chatKind: "dm", userKey: "telegram:5" })).allowed,
    ).toBe(true);
    expect(checkAccess({ ...settings, defaultDm: "closed" }, {}, dm)).toMatchObject({
      allowed: false,
      code: "E_DM_CLOSED",
    });
    expect(
      checkAccess({ ...settings, defaultDm: "closed" }, {}, subject({ chatKind: "dm", userKey: "telegram:1" })).allowed,
    ).toBe(true);
    expect(checkAccess({ ...settings, defaultDm: "closed" }, {}, subject()).allowed).toBe(true); // groups unaffected
  });
});

describe("people named in config", () => {
  const people = peopleFromConfig({
    ada: { identities: ["telegram:7", "slack:U7"], role: "admin" },
    bo: { identities: ["telegram:8", "slack:U8"] },
  });
  const named: PermissionSettings = { owners: new Set(["slack:U8"]), defaultDm: "open", people };

  it("gives the person's role on every platform, under chat overrides and platform admin rights of the chat", () => {
    expect(resolveRole(named, undefined, subject({ userKey: "slack:U7", platformRole: undefined }))).toBe("admin");
    expect(resolveRole(named, undefined, subject({ userKey: "telegram:7", platformRole: "member" }))).toBe("admin");
    // No role granted: the platform's own admin rights hold only where the platform grants them.
    expect(resolveRole(named, undefined, subject({ userKey: "telegram:9", platformRole: "admin" }))).toBe("admin");
    const policy: ChatPolicy = { ...emptyPolicy(), roleOverrides: { "principal:ada": "guest" } };
    expect(resolveRole(named, policy, subject({ userKey: "slack:U7" }))).toBe("guest");
    // An override of the identity itself is the more specific one.
    policy.roleOverrides["slack:U7"] = "member";
    expect(resolveRole(named, policy, subject({ userKey: "slack:U7" }))).toBe("member");
    // An owner named by one identity is the owner on every platform of the person.
    expect(resolveRole(named, undefined, subject({ userKey: "telegram:8", platformRole: undefined }))).toBe("owner");
    expect(
      resolveRole(
        { ...named, owners: new Set(["principal:ada"]) },
        undefined,
        subject({ userKey: "slack:U7", platformRole: undefined }),
      ),
    ).toBe("owner");
    // Someone not named gets nothing from it.
    expect(resolveRole(named, undefined, subject({ userKey: "slack:U9", platformRole: undefined }))).toBe("guest");
  });

  it("applies allow and deny lists that name any identity of the person, or the person", () => {
    const deny: ChatPolicy = { ...emptyPolicy(), deny: ["telegram:7"] };
    expect(checkAccess(named, { policy: deny }, subject({ userKey: "slack:U7" })).allowed).toBe(false);
    const denyPerson: ChatPolicy = { ...emptyPolicy(), deny: ["principal:ada"] };
    expect(checkAccess(named, { globalPolicy: denyPerson }, subject({ userKey: "telegram:7" })).allowed).toBe(false);
    expect(checkAccess(named, { policy: deny }, subject({ userKey: "slack:U9" })).allowed).toBe(true);
    const allow: ChatPolicy = { ...emptyPolicy(), dm: "allowlist", allow: ["slack:U7"] };
    const dm = (userKey: string) => subject({ userKey, chatKind: "dm", platformRole: undefined });
    expect(checkAccess(named, { globalPolicy: allow }, dm("telegram:7")).allowed).toBe(true);
    expect(checkAccess(named, { globalPolicy: allow }, dm("telegram:9")).allowed).toBe(false);
    expect(listNames(["principal:ada"], "telegram:7", people.get("telegram:7"))).toBe(true);
    expect(listNames(["principal:bo"], "telegram:7", people.get("telegram:7"))).toBe(false);
  });
});
