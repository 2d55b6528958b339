import { describe, expect, it } from "vitest";
import { platformRoleFromUser, SlackRoleCache } from "../../../../adapters/slack/roles.ts";

describe("Slack workspace roles", () => {
  it("maps owners, admins and everyone else", () => {
    expect(platformRoleFromUser({ is_primary_owner: true, is_owner: true, is_admin: true })).toBe("owner");
    expect(platformRoleFromUser({ is_owner: true })).toBe("owner");
    expect(platformRoleFromUser({ is_admin: true })).toBe("admin");
    expect(platformRoleFromUser({})).toBe("member");
  });

  it("caches lookups, shares concurrent ones, expires them, and fails closed", async () => {
    let now = 0;
    const calls: string[] = [];
    const cache = new SlackRoleCache({
      now: () => now,
      ttlMs: 1_000,
      failureTtlMs: 100,
      fetchUser: async (id) => {
        calls.push(id);
        if (id === "UBAD") throw new Error("users.info failed");
        return { is_admin: id === "UADMIN", profile: { display_name: `name-${id}` } };
      },
    });
    const [a, b] = await Promise.all([cache.lookup("UADMIN"), cache.lookup("UADMIN")]);
    expect(a).toEqual({ role: "admin", displayName: "name-UADMIN", isBot: false });
    expect(b).toBe(a);
    expect(calls).toEqual(["UADMIN"]);
    now = 500;
    await cache.lookup("UADMIN");
    expect(calls).toEqual(["UADMIN"]);
    now = 1_500;
    await cache.lookup("UADMIN");
    expect(calls).toEqual(["UADMIN", "UADMIN"]);
    expect((await cache.lookup("UBAD")).role).toBeUndefined();
    await cache.lookup("UBAD");
    expect(calls.filter((c) => c === "UBAD")).toHaveLength(1);
    now = 1_700;
    await cache.lookup("UBAD");
    expect(calls.filter((c) => c === "UBAD")).toHaveLength(2);
  });
});
