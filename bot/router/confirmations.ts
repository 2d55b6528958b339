/**
 * Confirmation and approval of commands. A node marked `confirm` (or `dangerous`, or raised by a chat with
 * `/perms confirm`) answers with what it will do and runs only after the same person sends `/confirm <id>` (a
 * button where the platform has them); `approvals: N` (or `/perms approvals`) also needs N distinct other people
 * with the command's required role to send `/approve <id>`. The requester never approves their own request.
 * Requests live in the store (`pending_requests`), so they survive a restart, and expire after `ttlMs` (5 min).
 * Asking, confirming, approving, refusing, expiring and running are audited. When a request is complete the
 * command is handed back to the router as the requester, where it is authorised again like any message.
 */
import { randomBytes } from "node:crypto";
import type { CommandContext } from "../commands.ts";
import type { AuditEntry, SqlClient } from "../storage/types.ts";
import type { Clock } from "../core.ts";
import { SwitchboardError } from "../errors.ts";
import { parseCommandLine } from "../commands.ts";
import type { Inbound, ReplyInput } from "../model.ts";
import { roleAtLeast, type ChatPolicy, type Role } from "../permissions.ts";

/** What a command needs before it runs here. */
export interface Requirement {
  needsConfirm: boolean;
  approvals: number;
  /** The role an approver must have (the command's minimum here). */
  requiredRole: Role;
}

/** A stored request. */
export interface PendingRequest {
  id: string;
  chatKey: string;
  /** The requester's user key. */
  requester: string;
  commandLine: string;
  /** As typed: `/perms role`. */
  label: string;
  needsConfirm: boolean;
  isConfirmed: boolean;
  approvals: number;
  approvers: string[];
  requiredRole: Role;
  /** Enough of the requester's message to run the command as them later. */
  user: Inbound["user"];
  chat: Inbound["chat"];
  platform: string;
  threadId?: string;
  createdAt: number;
  expiresAt: number;
}

/** Options for the confirmation service. */
export interface ConfirmationOptions {
  sql: SqlClient;
  audit(entry: Omit<AuditEntry, "at" | "id"> & { at?: number }): Promise<void>;
  clock: Clock;
  /** How long a request waits (default 5 minutes). */
  ttlMs?: number;
  /** Requests waiting per chat at most (default 20); older ones must be confirmed or expire first. */
  maxPerChat?: number;
}

/**
 * What a node asks for here: its own flags, raised (never lowered) by the chat's policy. `dangerous` means an
 * admin's confirmation: the requester's own when they are admin, else one approval by an admin.
 */
export function requirementOf(
  node: { confirm?: boolean | undefined; approvals?: number | undefined; dangerous?: boolean | undefined },
  { key, policy, role, minimum }: { key: string; policy: ChatPolicy | undefined; role: Role; minimum: Role },
): Requirement | undefined {
  const fromPolicy = policy?.approvals?.[key] ?? 0;
  let approvals = Math.max(node.approvals ?? 0, fromPolicy);
  let needsConfirm = node.confirm === true || policy?.confirm?.[key] === true;
  let requiredRole = minimum;
  if (node.dangerous === true) {
    needsConfirm = true;
    if (!roleAtLeast(role, "admin")) {
      approvals = Math.max(approvals, 1);
      requiredRole = roleAtLeast(minimum, "admin") ? minimum : "admin";
    }
  }
  return needsConfirm || approvals > 0 ? { needsConfirm, approvals, requiredRole } : undefined;
}

/** Pending requests, in the store. */
export class Confirmations {
  readonly #o: Required<Pick<ConfirmationOptions, "ttlMs" | "maxPerChat">> & ConfirmationOptions;
  /** Messages handed back to the router once their request is complete: they pass the gate once. */
  readonly #approved = new WeakSet<Inbound>();
  #run: ((inbound: Inbound) => Promise<void>) | undefined;

  constructor(options: ConfirmationOptions) {
    this.#o = { ttlMs: 5 * 60_000, maxPerChat: 20, ...options };
  }

  /** Where a completed request's command goes (the router's `handle`). */
  attach(run: (inbound: Inbound) => Promise<void>): void {
    this.#run = run;
  }

  /** True once for a message handed back by a completed request. */
  takeApproved(inbound: Inbound): boolean {
    return this.#approved.delete(inbound);
  }

  /** Store a request for this message and say what it will do and how to go on. */
  async ask(
    ctx: CommandContext,
    { label, requirement, what }: { label: string; requirement: Requirement; what?: string },
  ): Promise<ReplyInput> {
    const now = this.#o.clock.now();
    await this.#expire(now);
    const { rows } = await this.#o.sql.query<{ n: unknown }>(
      "SELECT COUNT(*) AS n FROM pending_requests WHERE chat_key = $1",
      [ctx.chatKey],
    );
    if (Number(rows[0]?.n ?? 0) >= this.#o.maxPerChat) {
      throw new SwitchboardError("E_QUOTA_EXCEEDED", `too many pending requests in ${ctx.chatKey}`, {
        chatMessage: `This chat has ${this.#o.maxPerChat} requests waiting; confirm or let some expire first.`,
      });
    }
    const { inbound } = ctx;
    const request: PendingRequest = {
      id: randomBytes(4).toString("hex"),
      chatKey: ctx.chatKey,
      requester: ctx.userKey,
      commandLine: inbound.command === undefined ? inbound.text.trim() : lineOf(inbound.command),
      label,
      needsConfirm: requirement.needsConfirm,
      isConfirmed: !requirement.needsConfirm,
      approvals: requirement.approvals,
      approvers: [],
      requiredRole: requirement.requiredRole,
      user: { ...inbound.user },
      chat: { ...inbound.chat },
      platform: inbound.platform,
      ...(inbound.threadId === undefined ? {} : { threadId: inbound.threadId }),
      createdAt: now,
      expiresAt: now + this.#o.ttlMs,
    };
    await this.#o.sql.query(
      "INSERT INTO pending_requests (id, chat_key, requester, request, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
      [request.id, request.chatKey, request.requester, JSON.stringify(request), now, request.expiresAt],
    );
    await this.#audit(request, "request.ask", {
      after: { commandLine: request.commandLine, confirm: request.needsConfirm, approvals: request.approvals },
    });
    const minutes = Math.round(this.#o.ttlMs / 60_000);
    const steps: string[] = [];
    if (request.needsConfirm) steps.push(`confirm with \`/confirm ${request.id}\``);
    if (request.approvals > 0)
      steps.push(
        `${request.approvals} other ${request.approvals === 1 ? "person" : "people"} with the ${request.requiredRole} role must approve with \`/approve ${request.id}\``,
      );
    const buttons = [
      [
        ...(request.needsConfirm ? [{ label: "Confirm", data: `/confirm ${request.id}` }] : []),
        ...(request.approvals > 0 ? [{ label: "Approve", data: `/approve ${request.id}` }] : []),
      ],
    ];
    return {
      text: `${what === undefined ? "" : `${what}\n\n`}This will run \`${request.commandLine}\` as ${ctx.userKey}. To go on, ${steps.join(", and ")} (valid ${minutes} min).`,
      buttons,
    };
  }

  /** `/confirm [id]`: the requester confirms (no id: their newest request in this chat). */
  async confirm(ctx: CommandContext, id: string | undefined): Promise<ReplyInput> {
    const request = await this.#find(ctx, id, { newestOf: ctx.userKey });
    if (request.requester !== ctx.userKey) {
      await this.#audit(request, "request.refuse", { actor: ctx.userKey, after: { reason: "not the requester" } });
      throw new SwitchboardError("E_PERMISSION_DENIED", `${ctx.userKey} confirming ${request.requester}'s request`, {
        chatMessage: `Only ${request.requester}, who asked for it, can confirm request ${request.id}.`,
      });
    }
    if (request.isConfirmed && request.needsConfirm) return `Request ${request.id} is already confirmed.`;
    request.isConfirmed = true;
    await this.#audit(request, "request.confirm", { actor: ctx.userKey });
    return this.#advance(ctx, request);
  }

  /** `/approve [id]`: someone else with the required role approves (no id: the newest request in this chat). */
  async approve(ctx: CommandContext, id: string | undefined): Promise<ReplyInput> {
    const request = await this.#find(ctx, id, {});
    const refuse = async (reason: string, chatMessage: string): Promise<never> => {
      await this.#audit(request, "request.refuse", { actor: ctx.userKey, after: { reason } });
      throw new SwitchboardError("E_PERMISSION_DENIED", `${ctx.userKey} approving ${request.id}: ${reason}`, {
        chatMessage,
      });
    };
    if (request.approvals === 0) return refuse("needs no approvals", `Request ${request.id} needs no approvals.`);
    if (request.requester === ctx.userKey)
      return refuse("own request", "You can't approve your own request; someone else must.");
    if (!roleAtLeast(ctx.role, request.requiredRole))
      return refuse(
        `role ${ctx.role}`,
        `Approving ${request.label} needs the ${request.requiredRole} role; you are ${ctx.role} here.`,
      );
    if (request.approvers.includes(ctx.userKey)) return `You already approved request ${request.id}.`;
    request.approvers.push(ctx.userKey);
    await this.#audit(request, "request.approve", {
      actor: ctx.userKey,
      after: { approvals: request.approvers.length, of: request.approvals },
    });
    return this.#advance(ctx, request);
  }

  /** Run the command when the request is complete, else store where it stands. */
  async #advance(ctx: CommandContext, request: PendingRequest): Promise<ReplyInput> {
    const missing = request.approvals - request.approvers.length;
    if (missing > 0 || !request.isConfirmed) {
      await this.#o.sql.query("UPDATE pending_requests SET request = $2 WHERE id = $1", [
        request.id,
        JSON.stringify(request),
      ]);
      const waiting = [
        ...(request.isConfirmed ? [] : [`${request.requester}'s confirmation`]),
        ...(missing > 0 ? [`${missing} more approval${missing === 1 ? "" : "s"}`] : []),
      ];
      return `Request ${request.id} (\`${request.commandLine}\`) is waiting for ${waiting.join(" and ")}.`;
    }
    const { rows } = await this.#o.sql.query<{ id: unknown }>(
      "DELETE FROM pending_requests WHERE id = $1 RETURNING id",
      [request.id],
    );
    if (rows.length === 0) return `Request ${request.id} has already run.`;
    await this.#audit(request, "request.run", { actor: ctx.userKey, after: { approvers: request.approvers } });
    const run = this.#run;
    if (run === undefined) throw new SwitchboardError("E_INTERNAL", "confirmations are not attached to a router");
    const command = parseCommandLine(request.commandLine);
    const inbound: Inbound = {
      deliveryId: `request:${request.id}`,
      platform: request.platform,
      chat: request.chat,
      user: request.user,
      text: request.commandLine,
      ...(command === undefined ? {} : { command }),
      ...(request.threadId === undefined ? {} : { threadId: request.threadId }),
      origin: ctx.inbound.origin === "operator" ? "operator" : "button",
      receivedAt: this.#o.clock.now(),
      respond: ctx.inbound.respond,
    };
    this.#approved.add(inbound);
    // Queued behind this /confirm or /approve in the conversation, and authorised again as the requester.
    await run(inbound);
    return `Running \`${request.commandLine}\` (request ${request.id}).`;
  }

  async #find(
    ctx: CommandContext,
    id: string | undefined,
    { newestOf }: { newestOf?: string },
  ): Promise<PendingRequest> {
    const now = this.#o.clock.now();
    await this.#expire(now);
    const { rows } =
      id !== undefined
        ? await this.#o.sql.query<{ request: unknown }>(
            "SELECT request FROM pending_requests WHERE id = $1 AND chat_key = $2",
            [id, ctx.chatKey],
          )
        : newestOf !== undefined
          ? await this.#o.sql.query<{ request: unknown }>(
              "SELECT request FROM pending_requests WHERE chat_key = $1 AND requester = $2 ORDER BY created_at DESC LIMIT 1",
              [ctx.chatKey, newestOf],
            )
          : await this.#o.sql.query<{ request: unknown }>(
              "SELECT request FROM pending_requests WHERE chat_key = $1 ORDER BY created_at DESC LIMIT 1",
              [ctx.chatKey],
            );
    const row = rows[0];
    if (row === undefined) {
      throw new SwitchboardError("E_NOT_FOUND", `no pending request ${id ?? "(newest)"} in ${ctx.chatKey}`, {
        chatMessage:
          id === undefined ? "Nothing is waiting for you here." : `Request ${id} is unknown here or has expired.`,
      });
    }
    return JSON.parse(String(row.request)) as PendingRequest;
  }

  /** Drop expired requests (every chat's, so a chat nobody returns to keeps none), auditing each. */
  async #expire(now: number): Promise<void> {
    const { rows } = await this.#o.sql.query<{ request: unknown }>(
      "DELETE FROM pending_requests WHERE expires_at <= $1 RETURNING request",
      [now],
    );
    for (const row of rows) {
      const request = JSON.parse(String(row.request)) as PendingRequest;
      await this.#audit(request, "request.expire", { actor: "system" });
    }
  }

  #audit(
    request: PendingRequest,
    action: string,
    { actor, after }: { actor?: string; after?: unknown },
  ): Promise<void> {
    return this.#o.audit({
      actor: actor ?? request.requester,
      chatKey: request.chatKey,
      action,
      target: `${request.id} ${request.commandLine}`.slice(0, 200),
      before: null,
      after: after ?? null,
    });
  }
}

/** `/name args` from a parsed command. */
function lineOf(command: { name: string; rawArgs: string }): string {
  return command.rawArgs === "" ? `/${command.name}` : `/${command.name} ${command.rawArgs}`;
}
