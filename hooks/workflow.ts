/**
 * Workflow triggers: named outbound webhooks per chat (`/workflow add <name> <url>`, admins; the secret is
 * sealed like a hook's). `/workflow run <name> [args]` posts a signed JSON payload (`X-Switchboard-Timestamp`,
 * `X-Switchboard-Signature: sha256=HMAC(secret, "<ts>.<body>")`) with a run id and a callback URL, and shows its
 * progress in one message, edited as it goes where the platform can edit. Each workflow has a callback hook
 * (template `workflow`, same secret): the workflow answers there with `{ runId, status, text }`, and the answer
 * lands in the chat and thread the run was started from.
 */
import { randomBytes } from "node:crypto";
import type {
  AdapterHub,
  Clock,
  CommandContext,
  CommandDef,
  CommandNode,
  ConversationTarget,
  ReplyInput,
  SentMessage,
  SqlClient,
} from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";
import { answerPrivately } from "./chat-command.ts";
import type { DeliveryRoute } from "./delivery.ts";
import { HOOK_NAME, type AuditWriter, type HookRegistry } from "./registry.ts";
import { newSecret, type SecretBox } from "./secrets.ts";
import { esc, pick } from "./templates/text.ts";
import { signTimestamped } from "./verify.ts";

/** The header naming the run, besides the body's `runId`. */
export const RUN_HEADER = "x-switchboard-run-id";
/** Runs are remembered this long for their callbacks, in ms (and at most `MAX_RUNS`). */
const RUN_TTL_MS = 7 * 86_400_000;
const MAX_RUNS = 100_000;

interface WorkflowRow {
  chat_key: string;
  name: string;
  url: string;
  secret: string;
  hook_id: string;
  created_by: string;
  created_at: string | number;
}

interface RunRow {
  id: string;
  hook_id: string;
  name: string;
  target: string;
  progress: string | null;
}

/** The `workflows` and `workflow_runs` tables. */
export class WorkflowRepo {
  readonly #sql: SqlClient;
  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  async add(w: {
    chatKey: string;
    name: string;
    url: string;
    sealedSecret: string;
    hookId: string;
    by: string;
    at: number;
  }): Promise<void> {
    await this.#sql.query(
      "INSERT INTO workflows (chat_key, name, url, secret, hook_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      [w.chatKey, w.name, w.url, w.sealedSecret, w.hookId, w.by, w.at],
    );
  }

  async get(chatKey: string, name: string): Promise<WorkflowRow | undefined> {
    const { rows } = await this.#sql.query<WorkflowRow>("SELECT * FROM workflows WHERE chat_key = $1 AND name = $2", [
      chatKey,
      name,
    ]);
    return rows[0];
  }

  async list(chatKey: string): Promise<WorkflowRow[]> {
    return (await this.#sql.query<WorkflowRow>("SELECT * FROM workflows WHERE chat_key = $1 ORDER BY name", [chatKey]))
      .rows;
  }

  async remove(chatKey: string, name: string): Promise<void> {
    await this.#sql.query("DELETE FROM workflows WHERE chat_key = $1 AND name = $2", [chatKey, name]);
  }

  async startRun(r: {
    id: string;
    hookId: string;
    name: string;
    target: ConversationTarget;
    by: string;
    at: number;
  }): Promise<void> {
    await this.#sql.query(
      "INSERT INTO workflow_runs (id, hook_id, name, target, progress, started_by, started_at, state) VALUES ($1, $2, $3, $4, NULL, $5, $6, 'started')",
      [r.id, r.hookId, r.name, JSON.stringify(r.target), r.by, r.at],
    );
  }

  async setProgress(id: string, message: SentMessage): Promise<void> {
    await this.#sql.query("UPDATE workflow_runs SET progress = $1 WHERE id = $2", [JSON.stringify(message), id]);
  }

  async run(
    id: string,
  ): Promise<
    { hookId: string; name: string; target: ConversationTarget; progress: SentMessage | undefined } | undefined
  > {
    const { rows } = await this.#sql.query<RunRow>(
      "SELECT id, hook_id, name, target, progress FROM workflow_runs WHERE id = $1",
      [id],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      hookId: row.hook_id,
      name: row.name,
      target: JSON.parse(row.target) as ConversationTarget,
      progress: row.progress === null ? undefined : (JSON.parse(row.progress) as SentMessage),
    };
  }

  /** Forget runs past their age, and the oldest past the count bound. */
  async prune(now: number): Promise<void> {
    await this.#sql.query("DELETE FROM workflow_runs WHERE started_at < $1", [now - RUN_TTL_MS]);
    const { rows } = await this.#sql.query<{ n: string | number }>("SELECT COUNT(*) AS n FROM workflow_runs");
    const over = Number(rows[0]?.n ?? 0) - MAX_RUNS;
    if (over > 0)
      await this.#sql.query(
        "DELETE FROM workflow_runs WHERE id IN (SELECT id FROM workflow_runs ORDER BY started_at LIMIT $1)",
        [over],
      );
  }
}

/** What workflows use. */
export interface WorkflowDeps {
  repo: WorkflowRepo;
  registry: HookRegistry;
  box: SecretBox;
  adapters: AdapterHub;
  clock: Clock;
  audit: AuditWriter;
  urlOf(hookId: string): string;
  maxPerChat: number;
  timeoutMs: number;
  /** The HTTP client (injected for tests). */
  fetch?: typeof fetch;
}

function checkUrl(text: string | undefined): string {
  try {
    const url = new URL(text ?? "");
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  } catch {}
  throw new SwitchboardError("E_BAD_ARGS", `bad workflow URL ${String(text)}`, {
    chatMessage: "A workflow URL is an http:// or https:// address.",
  });
}

async function addWorkflow(d: WorkflowDeps, ctx: CommandContext): Promise<ReplyInput> {
  const [rawName, rawUrl] = ctx.args;
  if (rawName === undefined || rawUrl === undefined) return "Usage: /workflow add <name> <url>";
  const name = rawName.toLowerCase();
  if (!HOOK_NAME.test(name)) return "A workflow name is 1–32 lower-case letters, digits, `-` or `_`.";
  const url = checkUrl(rawUrl);
  if ((await d.repo.get(ctx.chatKey, name)) !== undefined) return `This chat already has a workflow named ${name}.`;
  if ((await d.repo.list(ctx.chatKey)).length >= d.maxPerChat)
    return `This chat has ${d.maxPerChat} workflows, the most it may have. Remove one first.`;
  const secret = newSecret();
  const { platform, chat, threadId } = ctx.inbound;
  const hook = await d.registry.create({
    chatKey: ctx.chatKey,
    name: `wf-${name}`,
    template: "workflow",
    actor: ctx.userKey,
    secret,
    target: threadId === undefined ? { platform, chatId: chat.id } : { platform, chatId: chat.id, threadId },
  });
  await d.repo.add({
    chatKey: ctx.chatKey,
    name,
    url,
    sealedSecret: d.box.seal(secret),
    hookId: hook.id,
    by: ctx.userKey,
    at: d.clock.now(),
  });
  await d.audit({
    actor: ctx.userKey,
    chatKey: ctx.chatKey,
    action: "workflow.add",
    target: name,
    via: "chat",
    after: { url },
  });
  return answerPrivately(
    ctx,
    d,
    `Workflow ${name} → ${url}, secret shown this once:\n${secret}\nRuns are POSTed with X-Switchboard-Timestamp and X-Switchboard-Signature: sha256=HMAC(secret, "<timestamp>.<body>"). Answer a run by POSTing {"runId", "status", "text"} to its callback URL (${d.urlOf(hook.id)}), signed the same way or with Authorization: Bearer <secret>.`,
  );
}

async function runWorkflow(d: WorkflowDeps, ctx: CommandContext): Promise<ReplyInput | undefined> {
  const [rawName, ...args] = ctx.args;
  if (rawName === undefined) return "Usage: /workflow run <name> [args]";
  const name = rawName.toLowerCase();
  const workflow = await d.repo.get(ctx.chatKey, name);
  if (workflow === undefined) return `This chat has no workflow named ${name}.`;
  const runId = randomBytes(12).toString("base64url");
  const { platform, chat, threadId } = ctx.inbound;
  const target: ConversationTarget =
    threadId === undefined ? { platform, chatId: chat.id } : { platform, chatId: chat.id, threadId };
  const now = d.clock.now();
  await d.repo.startRun({ id: runId, hookId: workflow.hook_id, name, target, by: ctx.userKey, at: now });
  void d.repo.prune(now).catch(() => undefined);
  const progress = await ctx.reply({ text: `▶ ${name}: starting (run ${runId})…`, format: "plain" });
  await d.repo.setProgress(runId, progress);
  const body = JSON.stringify({
    workflow: name,
    runId,
    args,
    rawArgs: ctx.rawArgs.slice(rawName.length).trim(),
    chat: { key: ctx.chatKey, ...target },
    user: ctx.userKey,
    callback: { url: d.urlOf(workflow.hook_id), runId },
    at: new Date(now).toISOString(),
  });
  const secret = d.box.open(workflow.secret);
  let outcome: string;
  try {
    const res = await (d.fetch ?? fetch)(workflow.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [RUN_HEADER]: runId,
        ...signTimestamped(secret, body, d.clock.now()),
      },
      body,
      signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(d.timeoutMs)]),
    });
    await res.body?.cancel();
    outcome = res.ok
      ? `⏳ ${name}: started (run ${runId}), waiting for its answer…`
      : `✖ ${name}: the workflow refused the run (HTTP ${res.status}).`;
  } catch (error) {
    outcome = `✖ ${name}: the workflow could not be reached (${error instanceof Error ? error.message : String(error)}).`;
  }
  await ctx.edit(progress, { text: outcome, format: "plain" });
  return undefined;
}

/** The `/workflow` command tree. */
export function workflowCommand(d: WorkflowDeps): CommandDef {
  const words = [{ name: "words", description: "the rest of the line", type: "string" as const, rest: true }];
  const leaf = (node: Omit<CommandNode, "args">): CommandNode => ({ ...node, args: [...words] });
  return {
    name: "workflow",
    description: "Trigger outside workflows (n8n, Zapier, GitHub Actions) and hear their answers",
    usage: "/workflow add <name> <url> · /workflow list · /workflow run <name> [args] · /workflow remove <name>",
    defaultRole: "member",
    source: "builtin",
    subcommands: [
      leaf({
        name: "add",
        description: "Register a workflow URL; its secret is sent to you privately",
        defaultRole: "admin",
        handler: (ctx) => addWorkflow(d, ctx),
      }),
      leaf({
        name: "list",
        description: "This chat's workflows",
        handler: async (ctx) => {
          const list = await d.repo.list(ctx.chatKey);
          if (list.length === 0) return "This chat has no workflows. Add one with /workflow add <name> <url>.";
          return {
            format: "plain",
            text: list.map((w) => `${w.name} → ${new URL(w.url).host} (added by ${w.created_by})`).join("\n"),
          };
        },
      }),
      leaf({ name: "run", description: "Run a workflow with arguments", handler: (ctx) => runWorkflow(d, ctx) }),
      leaf({
        name: "remove",
        description: "Remove a workflow and its callback hook",
        defaultRole: "admin",
        confirm: true,
        handler: async (ctx) => {
          const name = (ctx.args[0] ?? "").toLowerCase();
          const workflow = await d.repo.get(ctx.chatKey, name);
          if (workflow === undefined) return `This chat has no workflow named ${name}.`;
          await d.repo.remove(ctx.chatKey, name);
          await d.registry.remove({ id: workflow.hook_id, chatKey: ctx.chatKey, actor: ctx.userKey });
          await d.audit({
            actor: ctx.userKey,
            chatKey: ctx.chatKey,
            action: "workflow.remove",
            target: name,
            via: "chat",
            before: { url: workflow.url },
            after: null,
          });
          return `Workflow ${name} is removed.`;
        },
      }),
    ],
  };
}

/**
 * Where a workflow's answer goes: the chat and thread its run was started from. A `running` or `progress`
 * answer edits the run's progress message; any other is a new message there.
 */
export function workflowRoute(repo: WorkflowRepo): DeliveryRoute {
  return async ({ hook, payload }) => {
    if (hook.template !== "workflow") return undefined;
    const runId = pick(payload, "runId");
    if (typeof runId !== "string" || runId.length > 64) return undefined;
    const run = await repo.run(runId);
    if (run === undefined || run.hookId !== hook.id) return undefined;
    const status = String(pick(payload, "status") ?? "update");
    const text = pick(payload, "text");
    const line = `${esc(run.name, 64)}: ${esc(status, 30)}${text === undefined ? "" : ` — ${esc(text, 1_500)}`}`;
    const isProgress = status === "running" || status === "progress";
    return isProgress && run.progress !== undefined
      ? { target: run.target, text: `⏳ ${line}`, edit: run.progress }
      : { target: run.target, text: `${status === "failed" ? "✖" : "✔"} ${line}` };
  };
}
