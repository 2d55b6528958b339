/**
 * Per-chat permissions. Roles are ordered `owner > admin > member > guest`. Every decision is a pure function
 * of (config owners, the chat's policy, the bot-wide policy, the speaker) so it is cheap on the hot path and easy
 * to test. Fail closed: no policy, an unknown role or a failed platform lookup never grants a privileged command.
 */
import type { Inbound, PlatformRole } from "./model.ts";

/** A role in a chat. */
export type Role = "owner" | "admin" | "member" | "guest";

/** Every role, highest first. */
export const ROLES: readonly Role[] = ["owner", "admin", "member", "guest"];

const RANK: Readonly<Record<Role, number>> = { owner: 3, admin: 2, member: 1, guest: 0 };

/** True for a known role name. */
export function isRole(value: unknown): value is Role {
  return typeof value === "string" && Object.hasOwn(RANK, value);
}

/** True when `role` is at least `minimum`. Unknown roles never pass. */
export function roleAtLeast(role: unknown, minimum: unknown): boolean {
  if (!isRole(role) || !isRole(minimum)) return false;
  return RANK[role] >= RANK[minimum];
}

/** Who may direct-message the bot. */
export type DmPolicy = "open" | "allowlist" | "closed";

/**
 * A chat's policy, stored per chat key. The bot-wide policy lives under the chat key `*` and holds the DM policy
 * and the DM allow list.
 */
export interface ChatPolicy {
  /** Minimum role per command name (and per `skill:<name>` for a whole skill). */
  commandRoles: Record<string, Role>;
  /** Per-chat role overrides by user key (`platform:userId`). */
  roleOverrides: Record<string, Role>;
  /** User keys always let in (DM allow list on the bot-wide policy). */
  allow: string[];
  /** User keys never served in this chat (bot owners excepted). */
  deny: string[];
  /** Map platform admins/creators to `admin` here. Default true. */
  trustPlatformAdmins: boolean;
  /** Bot-wide only: who may DM the bot. */
  dm?: DmPolicy;
  /** Commands (by policy key: `perms`, `skills.install`) that ask their requester to confirm here. */
  confirm?: Record<string, boolean>;
  /** Commands that need this many approvals from other people with the required role here. */
  approvals?: Record<string, number>;
}

/** A fresh policy with nothing granted beyond the defaults. */
export function emptyPolicy(): ChatPolicy {
  return { commandRoles: {}, roleOverrides: {}, allow: [], deny: [], trustPlatformAdmins: true };
}

/** The chat key of the bot-wide policy. */
export const GLOBAL_POLICY_KEY = "*";

/** Everything a permission decision looks at. */
export interface Subject {
  userKey: string;
  platformRole: PlatformRole | undefined;
  chatKind: Inbound["chat"]["kind"];
  isBot: boolean;
}

/** A person named in config (`permissions.principals`): one principal, identities on several platforms. */
export interface Person {
  /** `principal:<name>`: what policies, quotas and usage rows name. */
  key: string;
  /** Every identity of the person (user keys). */
  identities: readonly string[];
  /** The role granted to the person in every chat where no chat override says otherwise. */
  role?: Role;
}

/** The inputs that do not change per message. */
export interface PermissionSettings {
  /** Bot owners by user key (`telegram:123`, `console:operator`) or principal key (`principal:ada`). */
  owners: ReadonlySet<string>;
  /** DM policy when the bot-wide policy sets none. */
  defaultDm: DmPolicy;
  /** Named people by each of their identities (empty when config names none). */
  people?: ReadonlyMap<string, Person>;
}

/** The people named in config (`permissions.principals`), by each of their identities. */
export function peopleFromConfig(
  principals: Readonly<Record<string, { identities: readonly string[]; role?: Role | undefined }>>,
): Map<string, Person> {
  const people = new Map<string, Person>();
  for (const [name, { identities, role }] of Object.entries(principals)) {
    const person: Person = { key: `principal:${name}`, identities, ...(role === undefined ? {} : { role }) };
    for (const identity of identities) people.set(identity, person);
  }
  return people;
}

/** Whether a list (allow, deny) names this user: their identity, or the person they are one of the identities of. */
export function listNames(list: readonly string[] | undefined, userKey: string, person: Person | undefined): boolean {
  if (list === undefined || list.length === 0) return false;
  if (list.includes(userKey)) return true;
  if (person === undefined) return false;
  return list.includes(person.key) || person.identities.some((k) => k !== userKey && list.includes(k));
}

/** The outcome of a check: allowed, or denied with a code and a reason for the chat. */
export type Decision =
  | { allowed: true; role: Role }
  | {
      allowed: false;
      role: Role;
      code: "E_PERMISSION_DENIED" | "E_NO_POLICY" | "E_DM_CLOSED" | "E_USER_DENIED";
      reason: string;
      /** The minimum role that would have been allowed, for command denials. */
      required?: Role;
    };

/**
 * The speaker's role in a chat: bot owner from config; else a per-chat override; else the platform role
 * (creator/admin → admin when the policy trusts platform admins; member → member); else guest.
 */
export function resolveRole(settings: PermissionSettings, policy: ChatPolicy | undefined, subject: Subject): Role {
  if (settings.owners.has(subject.userKey)) return "owner";
  if (subject.isBot) return "guest";
  const person = settings.people?.size ? settings.people.get(subject.userKey) : undefined;
  if (person !== undefined) {
    if (settings.owners.has(person.key) || person.identities.some((k) => settings.owners.has(k))) return "owner";
  }
  const override =
    policy !== undefined && Object.hasOwn(policy.roleOverrides, subject.userKey)
      ? policy.roleOverrides[subject.userKey]
      : person !== undefined && policy !== undefined && Object.hasOwn(policy.roleOverrides, person.key)
        ? policy.roleOverrides[person.key]
        : undefined;
  if (override !== undefined) return isRole(override) && override !== "owner" ? override : "guest";
  const fromPlatform = platformDerivedRole(policy, subject);
  // The person's role follows them; platform admin rights stay with the chat that grants them.
  return person?.role !== undefined && RANK[person.role] > RANK[fromPlatform] ? person.role : fromPlatform;
}

/** The role a chat's platform gives: creator/admin → admin (when trusted), member → member, else guest. */
function platformDerivedRole(policy: ChatPolicy | undefined, subject: Subject): Role {
  switch (subject.platformRole) {
    case "owner":
    case "admin":
      return policy === undefined || policy.trustPlatformAdmins ? "admin" : "member";
    case "member":
      return "member";
    default:
      // A DM is between the bot and this person alone: they are a member of it.
      return subject.chatKind === "dm" ? "member" : "guest";
  }
}

/**
 * May the subject talk to the bot in this chat at all? Deny lists and the DM policy are checked here,
 * before any command is looked at.
 */
export function checkAccess(
  settings: PermissionSettings,
  { policy, globalPolicy }: { policy?: ChatPolicy; globalPolicy?: ChatPolicy },
  subject: Subject,
): Decision {
  const role = resolveRole(settings, policy, subject);
  if (role === "owner") return { allowed: true, role };
  const person = settings.people?.size ? settings.people.get(subject.userKey) : undefined;
  if (listNames(policy?.deny, subject.userKey, person) || listNames(globalPolicy?.deny, subject.userKey, person)) {
    return { allowed: false, role, code: "E_USER_DENIED", reason: "user is on the deny list" };
  }
  if (subject.chatKind === "dm") {
    const dm = globalPolicy?.dm ?? settings.defaultDm;
    if (dm === "closed") return { allowed: false, role, code: "E_DM_CLOSED", reason: "DM policy is closed" };
    if (dm === "allowlist" && !listNames(globalPolicy?.allow, subject.userKey, person)) {
      return { allowed: false, role, code: "E_DM_CLOSED", reason: "DM policy is allowlist and the user is not on it" };
    }
  }
  return { allowed: true, role };
}

/**
 * May `role` run a command here? The minimum is the chat policy's entry for the command, else for its skill,
 * else the command's own default. A privileged command (default admin or above) in a chat with no policy is
 * denied to all but bot owners.
 */
export function checkCommand(
  role: Role,
  policy: ChatPolicy | undefined,
  command: { name: string; defaultRole: Role; skill?: string | undefined },
): Decision {
  if (role === "owner") return { allowed: true, role };
  const fromPolicy =
    policy === undefined
      ? undefined
      : Object.hasOwn(policy.commandRoles, command.name)
        ? policy.commandRoles[command.name]
        : command.skill !== undefined && Object.hasOwn(policy.commandRoles, `skill:${command.skill}`)
          ? policy.commandRoles[`skill:${command.skill}`]
          : undefined;
  const minimum: unknown = fromPolicy ?? command.defaultRole;
  if (!isRole(minimum)) {
    return { allowed: false, role, code: "E_PERMISSION_DENIED", reason: `no valid minimum role for /${command.name}` };
  }
  if (policy === undefined && roleAtLeast(minimum, "admin")) {
    return {
      allowed: false,
      role,
      code: "E_NO_POLICY",
      reason: `chat has no policy and /${command.name} is privileged`,
      required: minimum,
    };
  }
  if (!roleAtLeast(role, minimum)) {
    return {
      allowed: false,
      role,
      code: "E_PERMISSION_DENIED",
      reason: `/${command.name} needs ${minimum}; you are ${role} here`,
      required: minimum,
    };
  }
  return { allowed: true, role };
}
