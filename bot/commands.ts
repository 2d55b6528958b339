/**
 * The command registry and the command tree. A command is a tree of nodes: each node has a name, a description,
 * typed arguments, a default minimum role and its flags (`confirm`, `approvals`, `dangerous`, `urgent`), and may
 * have subcommands. Built-ins and skills (through their manifest) declare trees the same way; the router resolves a
 * command line to its path of nodes and authorises every node (`bot/router/authorize.ts`), and `/help`, native
 * menus and the Slack manifest are generated from the same tree. Names are unique; a near miss gets a "did you mean".
 */
import type { CommandArgSpec, CommandInfo, Inbound, ReplyInput, SentMessage } from "./model.ts";
import type { ChatPolicy, Role } from "./permissions.ts";
import { SwitchboardError } from "./errors.ts";

/** What a command handler gets. */
export interface CommandContext {
  inbound: Inbound;
  /** `platform:chatId`. */
  chatKey: string;
  /** `platform:userId`. */
  userKey: string;
  /** The speaker's role in this chat. */
  role: Role;
  /** The chat's stored policy, if any (read-only view). */
  policy: ChatPolicy | undefined;
  /** The arguments after the command and its subcommands, split like a shell. */
  args: string[];
  /** The arguments after the command and its subcommands, as typed. */
  rawArgs: string;
  /** The subcommands walked, in order (`["install"]` for `/skills install x`); empty for the command itself. */
  path: readonly string[];
  /** The node's typed arguments by name, parsed and checked against its `args` (absent ones left out). */
  options: Readonly<Record<string, string | number | boolean>>;
  /** Send a reply where the message came from. */
  reply(reply: ReplyInput): Promise<SentMessage>;
  /** Edit a reply sent earlier (falls back to a new message where the platform cannot edit). */
  edit(message: SentMessage, reply: ReplyInput): Promise<void>;
  /** Abort signal for this message's work (set when the bot shuts down or the handler times out). */
  signal: AbortSignal;
}

/** A handler returns a reply (sent for it), or nothing when it replied itself. */
export type CommandHandler = (ctx: CommandContext) => Promise<ReplyInput | void> | ReplyInput | void;

/**
 * What every node of a command tree declares. Example:
 *
 * ```ts
 * const deploy: CommandDef = {
 *   name: "deploy", description: "Deploy a service", defaultRole: "member", source: "builtin",
 *   subcommands: [
 *     { name: "prod", description: "Deploy to production", defaultRole: "admin", confirm: true,
 *       args: [{ name: "service", description: "Which service", type: "string", required: true }],
 *       handler: (ctx) => `deploying ${ctx.options.service}` },
 *   ],
 * };
 * ```
 */
export interface CommandNode {
  name: string;
  description: string;
  /** Longer usage shown by `/help <name>`: `"/perms set <command> <role>"`. */
  usage?: string;
  /** Typed arguments after the node's name; parsed into `ctx.options` and refused when they do not fit. */
  args?: CommandArgSpec[];
  /**
   * Minimum role when the chat's policy says nothing (policy key: `name` for a command, `parent.sub` for a
   * subcommand). A subcommand without one needs its parent's. Privileged means `admin` or `owner`.
   */
  defaultRole?: Role;
  /** Minimum role in a direct message, where the person is the whole audience (defaults to `defaultRole`). */
  dmRole?: Role;
  /**
   * Runs only after the same person confirms (a button, or `/confirm <id>`). A function decides from the parsed
   * arguments: `(o) => o.purge === true` asks only for `uninstall --purge`.
   */
  confirm?: boolean | ((options: Readonly<Record<string, string | number | boolean>>) => boolean);
  /**
   * What the command will do, for the confirmation or approval prompt (an install's plan). It may look things up;
   * a throw refuses the command at once, before anything is asked.
   */
  describe?: (ctx: CommandContext) => Promise<string> | string;
  /** Runs only after this many other people with the required role approve. */
  approvals?: number;
  /** Side effects that are hard to undo: an admin must confirm it. */
  dangerous?: boolean;
  /**
   * Served at once, ahead of a long turn holding the conversation's queue. `"after-own"`: ahead of other people's
   * work only, behind the sender's own earlier messages (`/confirm` answers a request the sender's message before
   * it may still be asking for).
   */
  urgent?: boolean | "after-own";
  /** The node's subcommands, matched by the first argument. */
  subcommands?: CommandNode[];
  /** Runs the node. A node with subcommands and no handler answers with its usage. */
  handler?: CommandHandler;
}

/** One command: the root of a command tree. */
export interface CommandDef extends CommandNode {
  /** Minimum role when the chat's policy says nothing. Privileged means `admin` or `owner`. */
  defaultRole: Role;
  /** Who provides it: `builtin`, or `skill:<name>`. */
  source: string;
  /** The skill's name, for skill commands (policies can set a minimum role for a whole skill). */
  skill?: string;
  /** Left out of `/help` and native menus (still runnable). */
  hidden?: boolean;
  /** Only some chats have it (a skill enabled per chat). Absent: every chat. */
  availableIn?(chatKey: string): boolean;
}

/** Command names: lower-case letters, digits, `_` and `-`, 1–32 long (Telegram's and Discord's common ground). */
export const COMMAND_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * Order of command names (ASCII, `COMMAND_NAME`): by code unit, so `-` < digits < `_` < letters. Not
 * `localeCompare`: its first call loads ICU's collation data, about 2 MB resident that an idle bot has no use for.
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Holds every command; change listeners let adapters re-publish native menus. */
export class CommandRegistry {
  readonly #commands = new Map<string, CommandDef>();
  readonly #listeners = new Set<() => void>();

  /** Add a command. Throws `E_CONFLICT` when the name is taken. */
  register(def: CommandDef): void {
    if (!COMMAND_NAME.test(def.name)) {
      throw new SwitchboardError("E_BAD_ARGS", `invalid command name ${JSON.stringify(def.name)}`);
    }
    const existing = this.#commands.get(def.name);
    if (existing !== undefined) {
      throw new SwitchboardError("E_CONFLICT", `command /${def.name} is already provided by ${existing.source}`, {
        chatMessage: `/${def.name} is already provided by ${existing.source}.`,
      });
    }
    this.#commands.set(def.name, def);
    this.#changed();
  }

  /** Remove a command (a skill being disabled or uninstalled). */
  unregister(name: string): boolean {
    const removed = this.#commands.delete(name);
    if (removed) this.#changed();
    return removed;
  }

  /** Look a command up by name, as typed (case-insensitive). */
  get(name: string): CommandDef | undefined {
    return this.#commands.get(name) ?? this.#commands.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.#commands.has(name);
  }

  /** Every command, sorted by name. */
  list(): CommandDef[] {
    return [...this.#commands.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  /** What native menus show: visible commands with their typed arguments and subcommands. */
  infos(): CommandInfo[] {
    return this.list()
      .filter((c) => c.hidden !== true)
      .map((c) => infoOf(c, c.defaultRole));
  }

  /** Names close to `name` (edit distance ≤ 2, or a shared prefix of 3), best first, at most 3. */
  suggest(name: string, visibleIn?: string): string[] {
    const lower = name.toLowerCase();
    const scored: Array<[string, number]> = [];
    for (const c of this.#commands.values()) {
      if (c.hidden === true) continue;
      if (visibleIn !== undefined && c.availableIn !== undefined && !c.availableIn(visibleIn)) continue;
      const d = editDistance(lower, c.name, 3);
      if (d <= 2 || (lower.length >= 3 && c.name.startsWith(lower.slice(0, 3)))) scored.push([c.name, d]);
    }
    return scored
      .sort((a, b) => a[1] - b[1] || compareNames(a[0], b[0]))
      .slice(0, 3)
      .map(([n]) => n);
  }

  /** Called after every register/unregister. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** A node as native menus see it: name, description, typed arguments, subcommands, minimum role. */
export function infoOf(node: CommandNode, inherited: Role): CommandInfo {
  const role = node.defaultRole ?? inherited;
  const info: CommandInfo = { name: node.name, description: node.description, defaultRole: role };
  if (node.args !== undefined) info.args = node.args.map((a: CommandArgSpec) => ({ ...a }));
  if (node.subcommands !== undefined) info.subcommands = node.subcommands.map((sub) => infoOf(sub, role));
  return info;
}

/** A command line resolved against its tree: the nodes walked, their policy keys, what is left of the line. */
export interface ResolvedCommand {
  def: CommandDef;
  /** The deepest node reached (the command itself when no subcommand matched). */
  node: CommandNode;
  /** Subcommand names walked. */
  path: string[];
  /** Each node from the root down, with its policy key (`skills`, `skills.install`) and its default role. */
  steps: Array<{ key: string; node: CommandNode; defaultRole: Role }>;
  args: string[];
  rawArgs: string;
}

/**
 * Walk a command's tree along its arguments: `/skills install x` reaches `skills → install` with `x` left. A node
 * with subcommands whose first argument names none stays where it is (its handler, or its usage, decides).
 */
export function resolveCommand(def: CommandDef, args: string[], rawArgs: string): ResolvedCommand {
  const steps: ResolvedCommand["steps"] = [{ key: def.name, node: def, defaultRole: def.defaultRole }];
  const path: string[] = [];
  let node: CommandNode = def;
  let key = def.name;
  let role = def.defaultRole;
  let rest = rawArgs;
  let at = 0;
  while (node.subcommands !== undefined && at < args.length) {
    const word = args[at]!.toLowerCase();
    const sub = node.subcommands.find((s) => s.name === word);
    if (sub === undefined) break;
    node = sub;
    key = `${key}.${sub.name}`;
    role = sub.defaultRole ?? role;
    steps.push({ key, node: sub, defaultRole: role });
    path.push(sub.name);
    rest = rest.replace(/^\s*\S+\s*/, "");
    at++;
  }
  return { def, node, path, steps, args: at === 0 ? args : args.slice(at), rawArgs: rest };
}

/** Find a node by its policy key or path: `skills.install`, `skills install`, `/skills install`. */
export function findNode(
  registry: CommandRegistry,
  ref: string,
): { def: CommandDef; node: CommandNode; key: string } | undefined {
  const words = ref
    .replace(/^\//, "")
    .toLowerCase()
    .split(/[.\s]+/)
    .filter(Boolean);
  const def = words[0] === undefined ? undefined : registry.get(words[0]);
  if (def === undefined) return undefined;
  const resolved = resolveCommand(def, words.slice(1), words.slice(1).join(" "));
  if (resolved.args.length > 0) return undefined;
  return { def, node: resolved.node, key: resolved.steps.at(-1)!.key };
}

/** A node's usage line: its own, or built from its path, subcommands and arguments. */
export function usageOf(node: CommandNode, prefix: string): string {
  if (node.usage !== undefined) return node.usage;
  const parts = [prefix];
  if (node.subcommands !== undefined) parts.push(node.subcommands.map((s) => s.name).join("|"));
  for (const a of node.args ?? []) {
    const label = a.flag === true ? `--${a.name}` : a.choices !== undefined ? a.choices.join("|") : a.name;
    const shown = a.rest === true && a.flag !== true ? `${label}…` : label;
    parts.push(a.required === true ? `<${shown}>` : `[${shown}]`);
  }
  return parts.join(" ");
}

/**
 * Parse a node's arguments into typed options. Flags (`--purge`) set boolean arguments marked `flag`; the rest
 * fill the positional arguments in order, a `rest` argument taking the remainder as typed. Throws `E_BAD_ARGS`
 * with the node's usage when a required argument is missing or a value does not fit its type or choices.
 */
export function parseOptions(
  node: CommandNode,
  { rawArgs, usage }: { rawArgs: string; usage: string | (() => string) },
): Record<string, string | number | boolean> {
  const specs = node.args;
  const out: Record<string, string | number | boolean> = {};
  if (specs === undefined || specs.length === 0) return out;
  const bad = (message: string): SwitchboardError =>
    new SwitchboardError("E_BAD_ARGS", message, {
      chatMessage: `${message}\nUsage: ${typeof usage === "string" ? usage : usage()}`,
    });
  const positional = specs.filter((a) => a.flag !== true);
  const tokens = tokensOf(rawArgs);
  let i = 0;
  for (const token of tokens) {
    if (token.text.startsWith("--")) {
      const flag = specs.find((a) => a.flag === true && `--${a.name}` === token.text);
      if (flag !== undefined) {
        out[flag.name] = true;
        continue;
      }
    }
    const spec = positional[i];
    if (spec === undefined) break; // extra words stay in `ctx.args` for the handler
    if (spec.rest === true) {
      out[spec.name] = rawArgs.slice(token.start).trim();
      i = positional.length;
      break;
    }
    out[spec.name] = typed(spec, token.text, bad);
    i++;
  }
  for (const spec of positional) {
    if (spec.required === true && !Object.hasOwn(out, spec.name)) throw bad(`Missing <${spec.name}>.`);
  }
  return out;
}

function typed(
  spec: CommandArgSpec,
  text: string,
  bad: (message: string) => SwitchboardError,
): string | number | boolean {
  if (spec.choices !== undefined && !spec.choices.includes(text)) {
    const lower = text.toLowerCase();
    if (!spec.choices.includes(lower)) throw bad(`<${spec.name}> is one of ${spec.choices.join(", ")}.`);
    text = lower;
  }
  switch (spec.type) {
    case "integer": {
      const n = Number(text);
      if (!Number.isSafeInteger(n)) throw bad(`<${spec.name}> must be a whole number.`);
      return n;
    }
    case "number": {
      const n = Number(text);
      if (text === "" || !Number.isFinite(n)) throw bad(`<${spec.name}> must be a number.`);
      return n;
    }
    case "boolean": {
      const lower = text.toLowerCase();
      if (["on", "true", "yes"].includes(lower)) return true;
      if (["off", "false", "no"].includes(lower)) return false;
      throw bad(`<${spec.name}> is on or off.`);
    }
    default:
      return text;
  }
}

/** Arguments with where each starts in the raw text (quotes removed). */
function tokensOf(raw: string): Array<{ text: string; start: number }> {
  const out: Array<{ text: string; start: number }> = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    out.push({ text: m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? m[3]!), start: m.index });
  }
  return out;
}

/** Levenshtein distance, giving up (returning `limit`) once every path exceeds it. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return Math.min(prev[b.length]!, limit);
}

/**
 * Split a command line into name and arguments. Accepts `/name`, `/name@botname` and quoted arguments
 * (`"two words"`). Returns undefined when the text is not a command.
 */
export function parseCommandLine(
  text: string,
  botUsername?: string,
): { name: string; args: string[]; rawArgs: string } | undefined {
  const bare = bareCommand(text);
  if (bare !== NOT_BARE)
    return { name: bare === BARE_LOWER ? text.slice(1) : text.slice(1).toLowerCase(), args: [], rawArgs: "" };
  const match = /^\/([A-Za-z0-9_-]{1,64})(?:@([A-Za-z0-9_]+))?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (match === null) return undefined;
  const [, name, mention, rest] = match;
  if (mention !== undefined && botUsername !== undefined && mention.toLowerCase() !== botUsername.toLowerCase()) {
    return undefined; // addressed to another bot in the group
  }
  const rawArgs = (rest ?? "").trim();
  return { name: name!.toLowerCase(), args: splitArgs(rawArgs), rawArgs };
}

const NOT_BARE = 0;
const BARE_LOWER = 1;
const BARE_MIXED = 2;

/**
 * Whether `text` is `/name` alone (1 to 64 of `A-Za-z0-9_-`, no bot mention, arguments or white space), which
 * needs no regex, and whether its name has capitals.
 */
function bareCommand(text: string): typeof NOT_BARE | typeof BARE_LOWER | typeof BARE_MIXED {
  if (text.length < 2 || text.length > 65 || text.charCodeAt(0) !== 0x2f) return NOT_BARE;
  let hasUpper = false;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) hasUpper = true;
    else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d)) return NOT_BARE;
  }
  return hasUpper ? BARE_MIXED : BARE_LOWER;
}

/** Split arguments on white space, keeping "double" or 'single' quoted runs together. */
export function splitArgs(raw: string): string[] {
  if (raw === "") return [];
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? m[3]!));
  }
  return args;
}
