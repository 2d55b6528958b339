/**
 * The admin API's permission checks: the same decision a typed command gets (`PermissionService.canRun`), asked
 * as the signed-in person in the chat at hand. A person's platform role comes from their platform's adapter,
 * as it would for a message; in a chat of another platform they are nobody there, unless a bot owner.
 */
import type { ApiAccess, Core } from "../core.ts";
import { parseConversationId, type ChatKind, type Platform, type PlatformRole } from "../model.ts";
import { GLOBAL_POLICY_KEY, type Decision, type Role } from "../permissions.ts";
import { ApiError, type Principal } from "../http/routes.ts";

/** The services the checks use. */
export type AccessDeps = Pick<Core, "permissions" | "store" | "adapters">;

/** A command every bot has, asked only for the role that comes with the decision. */
const ROLE_PROBE = "help";

/** The chats a person may administer are looked for among this many known chats at most. */
export const MAX_CHATS_SCANNED = 2_000;

/** Permission checks for API calls. */
export class AdminAccess implements ApiAccess {
  readonly #deps: AccessDeps;
  readonly #owners: ReadonlySet<string>;

  constructor(deps: AccessDeps, owners: readonly string[]) {
    this.#deps = deps;
    this.#owners = new Set(owners);
  }

  /** A bot owner (config `bot.owners`, and the console's operator). */
  isOwner(userKey: string): boolean {
    return this.#owners.has(userKey);
  }

  /** The decision for `command` in `chatKey`, as this person. */
  async decide(
    principal: Pick<Principal, "userKey" | "platform" | "userId">,
    chatKey: string,
    command: string,
  ): Promise<Decision> {
    // The bot-wide policy (`*`) and its audit trail are a bot owner's, as `/perms` keeps them.
    if (chatKey === GLOBAL_POLICY_KEY)
      return this.isOwner(principal.userKey)
        ? { allowed: true, role: "owner" }
        : {
            allowed: false,
            role: "guest",
            code: "E_PERMISSION_DENIED",
            reason: "the bot-wide policy is for bot owners",
          };
    let chat: ReturnType<typeof parseConversationId>;
    try {
      chat = parseConversationId(chatKey);
    } catch {
      throw new ApiError(400, "E_BAD_ARGS", `not a chat key (platform:chatId): ${chatKey.slice(0, 100)}`);
    }
    if (chat.platform !== principal.platform) {
      return this.isOwner(principal.userKey)
        ? { allowed: true, role: "owner" }
        : { allowed: false, role: "guest", code: "E_PERMISSION_DENIED", reason: "not a member of that platform" };
    }
    const record = await this.#deps.store.chats.get(chatKey);
    const kind: ChatKind = (record?.kind as ChatKind | undefined) ?? "group";
    return this.#deps.permissions.canRun(
      {
        platform: chat.platform,
        chatId: chat.chatId,
        chatKind: kind,
        userId: principal.userId,
        platformRole: await this.#platformRole(chat.platform, chat.chatId, principal.userId),
      },
      command,
    );
  }

  /** Someone's effective role in a chat (`platform:userId`), as a message of theirs would get it. */
  async roleOf(userKey: string, chatKey: string): Promise<Role> {
    const i = userKey.indexOf(":");
    const person = { userKey, platform: userKey.slice(0, i), userId: userKey.slice(i + 1) };
    return (await this.decide(person, chatKey, ROLE_PROBE)).role;
  }

  /** Throw 403 unless this person may run `command` in `chatKey`; answers their role there. */
  async require(principal: Principal, chatKey: string, command: string): Promise<Role> {
    const decision = await this.decide(principal, chatKey, command);
    if (!decision.allowed) throw new ApiError(403, decision.code, `${chatKey}: ${decision.reason}`);
    return decision.role;
  }

  /** Throw 403 unless this person is a bot owner. */
  requireOwner(principal: Principal): void {
    if (!this.isOwner(principal.userKey)) throw new ApiError(403, "E_PERMISSION_DENIED", "bot owners only");
  }

  /** The known chats where this person may run `command` (every chat for an owner). */
  async chatsWhere(principal: Principal, command: string): Promise<string[]> {
    const chats = (await this.#deps.store.chats.list()).slice(0, MAX_CHATS_SCANNED);
    if (this.isOwner(principal.userKey)) return chats.map((c) => c.chatKey);
    const allowed: string[] = [];
    for (const chat of chats) {
      if (!chat.chatKey.startsWith(`${principal.platform}:`)) continue;
      if ((await this.decide(principal, chat.chatKey, command)).allowed) allowed.push(chat.chatKey);
    }
    return allowed;
  }

  async #platformRole(platform: Platform, chatId: string, userId: string): Promise<PlatformRole | undefined> {
    const adapter = this.#deps.adapters.get(platform);
    if (adapter?.platformRoleOf === undefined) return undefined;
    return adapter.platformRoleOf(chatId, userId).catch(() => undefined);
  }
}
