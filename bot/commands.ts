/**
 * The command registry: built-in commands now, skill commands as skills are enabled. Names are unique; a
 * near miss gets a "did you mean". Adapters read `list()` to fill native command menus.
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
  args: string[];
  rawArgs: string;
  /** Send a reply where the message came from. */
  reply(reply: ReplyInput): Promise<SentMessage>;
  /** Edit a reply sent earlier (falls back to a new message where the platform cannot edit). */
  edit(message: SentMessage, reply: ReplyInput): Promise<void>;
  /** Abort signal for this message's work (set when the bot shuts down or the handler times out). */
  signal: AbortSignal;
}

/** A handler returns a reply (sent for it), or nothing when it replied itself. */
export type CommandHandler = (ctx: CommandContext) => Promise<ReplyInput | void> | ReplyInput | void;

/** One command. */
export interface CommandDef extends CommandInfo {
  /** Longer usage shown by `/help <name>`: `"/perms set <command> <role>"`. */
  usage?: string;
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
  handler: CommandHandler;
}

/** Command names: lower-case letters, digits, `_` and `-`, 1–32 long (Telegram's and Discord's common ground). */
export const COMMAND_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

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
    return [...this.#commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** What native menus show: visible commands with their typed arguments. */
  infos(): CommandInfo[] {
    return this.list()
      .filter((c) => c.hidden !== true)
      .map((c) =>
        c.args === undefined
          ? { name: c.name, description: c.description }
          : {
              name: c.name,
              description: c.description,
              args: c.args.map((a: CommandArgSpec) => ({ ...a })),
            },
      );
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
      .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
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
