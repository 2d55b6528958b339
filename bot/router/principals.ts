/**
 * One person across platforms. `/link` on one platform gives a one-time code (valid 10 minutes); `/link <code>`
 * sent by the same person on another platform joins both identities into one principal, so the link is confirmed
 * from both sides. `/unlink` takes an identity out again. Links are rows (`principal_links`), loaded at start and
 * kept in memory (one entry per linked identity); linking and unlinking are audited.
 *
 * What follows the person: bot ownership. An identity linked to a bot owner from config is an owner on its own
 * platform too (the operator named the person, and the person confirmed both identities). Nothing else is raised
 * by a link: chat roles, allow and deny lists stay per identity.
 */
import { randomInt, randomUUID } from "node:crypto";
import type { Keyv } from "keyv";
import type { Clock } from "../core.ts";
import { SwitchboardError } from "../errors.ts";
import type { AuditEntry, SqlClient } from "../storage/types.ts";

/** How long a `/link` code is valid. */
export const LINK_CODE_TTL_MS = 10 * 60_000;

/** Options for the principal service. */
export interface PrincipalOptions {
  sql: SqlClient;
  kv: Keyv;
  clock: Clock;
  audit(entry: Omit<AuditEntry, "at" | "id"> & { at?: number }): Promise<void>;
  /** Called after links change, with every identity of each principal that holds a config owner. */
  onOwnersChanged(linkedOwners: ReadonlySet<string>): void;
  /** Bot owners from config (user keys). */
  owners: readonly string[];
}

interface IssuedCode {
  userKey: string;
  expiresAt: number;
}

/** Linked identities. */
export class Principals {
  readonly #o: PrincipalOptions;
  /** Identity → principal, and principal → its identities: one entry per linked identity. */
  readonly #principalOf = new Map<string, string>();
  readonly #identities = new Map<string, Set<string>>();

  constructor(options: PrincipalOptions) {
    this.#o = options;
  }

  /** Read every link (at start). */
  async load(): Promise<void> {
    const { rows } = await this.#o.sql.query<{ user_key: unknown; principal: unknown }>(
      "SELECT user_key, principal FROM principal_links",
    );
    this.#principalOf.clear();
    this.#identities.clear();
    for (const row of rows) this.#remember(String(row.user_key), String(row.principal));
    this.#ownersChanged();
  }

  /** Every identity linked with `userKey`, itself included (alone when it is not linked). */
  identitiesOf(userKey: string): string[] {
    const principal = this.#principalOf.get(userKey);
    return principal === undefined ? [userKey] : [...(this.#identities.get(principal) ?? [userKey])].sort();
  }

  /** Give `userKey` a one-time code for `/link <code>` on another platform. Its previous code stops working. */
  async issueCode(userKey: string): Promise<string> {
    const previous = await this.#o.kv.get<string>(`link-user:${userKey}`);
    if (previous !== undefined) await this.#o.kv.delete(`link-code:${previous}`);
    const code = String(randomInt(100_000, 1_000_000));
    const issued: IssuedCode = { userKey, expiresAt: this.#o.clock.now() + LINK_CODE_TTL_MS };
    await this.#o.kv.set(`link-code:${code}`, issued, LINK_CODE_TTL_MS);
    await this.#o.kv.set(`link-user:${userKey}`, code, LINK_CODE_TTL_MS);
    return code;
  }

  /** `/link <code>` from `userKey`: join it with the identity that was given the code. Returns both identities. */
  async redeem(userKey: string, code: string): Promise<string[]> {
    const issued = /^\d{6}$/.test(code) ? await this.#o.kv.get<IssuedCode>(`link-code:${code}`) : undefined;
    if (issued === undefined || issued.expiresAt <= this.#o.clock.now()) {
      throw new SwitchboardError("E_NOT_FOUND", `link code unknown or expired (from ${userKey})`, {
        chatMessage: "That code is unknown or has expired. Send /link on the other platform for a new one.",
      });
    }
    if (issued.userKey.split(":")[0] === userKey.split(":")[0]) {
      throw new SwitchboardError("E_BAD_ARGS", `link within one platform (${issued.userKey}, ${userKey})`, {
        chatMessage: "Use the code on another platform than the one that gave it.",
      });
    }
    await this.#o.kv.delete(`link-code:${code}`);
    await this.#o.kv.delete(`link-user:${issued.userKey}`);
    const before = { [issued.userKey]: this.identitiesOf(issued.userKey), [userKey]: this.identitiesOf(userKey) };
    const principal = this.#principalOf.get(issued.userKey) ?? this.#principalOf.get(userKey) ?? randomUUID();
    // Both identities, and whatever either was linked to already, join one principal.
    const members = new Set([...this.identitiesOf(issued.userKey), ...this.identitiesOf(userKey)]);
    const now = this.#o.clock.now();
    for (const member of members) {
      await this.#o.sql.query(
        `INSERT INTO principal_links (user_key, principal, linked_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_key) DO UPDATE SET principal = EXCLUDED.principal, linked_at = EXCLUDED.linked_at`,
        [member, principal, now],
      );
      this.#forget(member);
      this.#remember(member, principal);
    }
    await this.#o.audit({
      actor: userKey,
      chatKey: "*",
      action: "principal.link",
      target: principal,
      before,
      after: { identities: this.identitiesOf(userKey) },
    });
    this.#ownersChanged();
    return this.identitiesOf(userKey);
  }

  /** Take `identity` out of its principal (`actor` must be one of its identities). */
  async unlink(actor: string, identity: string): Promise<string[]> {
    const principal = this.#principalOf.get(actor);
    if (principal === undefined || this.#principalOf.get(identity) !== principal) {
      throw new SwitchboardError("E_NOT_FOUND", `${identity} is not linked with ${actor}`, {
        chatMessage: `${identity} is not linked with you.`,
      });
    }
    const before = this.identitiesOf(actor);
    await this.#o.sql.query("DELETE FROM principal_links WHERE user_key = $1", [identity]);
    this.#forget(identity);
    // A principal left with one identity is no link at all.
    const rest = this.#identities.get(principal);
    if (rest !== undefined && rest.size === 1) {
      const [last] = rest;
      await this.#o.sql.query("DELETE FROM principal_links WHERE user_key = $1", [last]);
      this.#forget(last!);
    }
    await this.#o.audit({
      actor,
      chatKey: "*",
      action: "principal.unlink",
      target: identity,
      before: { identities: before },
      after: {
        identities: this.identitiesOf(actor === identity ? (before.find((k) => k !== identity) ?? actor) : actor),
      },
    });
    this.#ownersChanged();
    return this.identitiesOf(actor);
  }

  #remember(userKey: string, principal: string): void {
    this.#principalOf.set(userKey, principal);
    let set = this.#identities.get(principal);
    if (set === undefined) {
      set = new Set();
      this.#identities.set(principal, set);
    }
    set.add(userKey);
  }

  #forget(userKey: string): void {
    const principal = this.#principalOf.get(userKey);
    if (principal === undefined) return;
    this.#principalOf.delete(userKey);
    const set = this.#identities.get(principal);
    set?.delete(userKey);
    if (set !== undefined && set.size === 0) this.#identities.delete(principal);
  }

  #ownersChanged(): void {
    const owners = new Set(this.#o.owners);
    const linked = new Set<string>();
    for (const identities of this.#identities.values()) {
      if ([...identities].some((k) => owners.has(k))) for (const k of identities) linked.add(k);
    }
    this.#o.onOwnersChanged(linked);
  }
}
