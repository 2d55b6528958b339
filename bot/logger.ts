/**
 * The logger: pino, to stderr (stdout belongs to the console adapter), with secrets redacted by key name
 * wherever they appear. `pretty` prints one short line per event; `json` is pino's own format.
 */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

/** Keys whose values never reach the log, at any depth we know of. */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "*.*.token",
  "*.*.*.token",
  "apiKey",
  "*.apiKey",
  "*.*.apiKey",
  "*.*.*.apiKey",
  "signingSecret",
  "*.signingSecret",
  "*.*.signingSecret",
  "*.*.*.signingSecret",
  "appToken",
  "*.appToken",
  "*.*.appToken",
  "*.*.*.appToken",
  "webhookSecret",
  "*.webhookSecret",
  "*.*.webhookSecret",
  "*.*.*.webhookSecret",
  "password",
  "*.password",
  "*.*.password",
  "secret",
  "*.secret",
  "*.*.secret",
  "authorization",
  "*.authorization",
  "*.*.authorization",
  "headers.cookie",
  "*.headers.cookie",
  "databaseUrl",
  "*.databaseUrl",
  "*.*.databaseUrl",
  "redisUrl",
  "*.redisUrl",
  "*.*.redisUrl",
];

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** A stream that turns pino's JSON lines into `12:00:01 INFO  msg key=value` lines. */
function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      let line: string;
      try {
        const {
          level,
          time,
          msg,
          pid: _pid,
          hostname: _host,
          ...rest
        } = JSON.parse(chunk.toString()) as Record<string, unknown>;
        const at = new Date(typeof time === "number" ? time : Date.now()).toISOString().slice(11, 19);
        const extras = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ");
        line = `${at} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? "")}${extras ? ` ${extras}` : ""}\n`;
      } catch {
        line = chunk.toString();
      }
      out.write(line);
      done();
    },
  });
}

/** Options for `createLogger`. */
export interface LoggerOptions {
  level: string;
  format: "pretty" | "json";
  /** Append to this file (created with its folder); default: `destination`. */
  file?: string;
  /** Where lines go when there is no `file`; default stderr. */
  destination?: NodeJS.WritableStream;
  /**
   * The terminal is shared with an interactive console: when lines go to stderr, only `interactiveLevel` and more
   * severe levels are written, so they do not break into the conversation.
   */
  interactive?: boolean;
  interactiveLevel?: string;
  /** Warnings and errors of one kind past the first in this window are counted, not written, in ms. Default 60 s. */
  floodWindowMs?: number;
}

const SEVERITY: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/** The level the logger runs at: `level`, raised to `interactiveLevel` when the log shares a console's terminal. */
export function effectiveLogLevel(options: LoggerOptions): string {
  const sharesTerminal =
    options.interactive === true && options.file === undefined && options.destination === undefined;
  if (!sharesTerminal || options.interactiveLevel === undefined) return options.level;
  return (SEVERITY[options.interactiveLevel] ?? 0) > (SEVERITY[options.level] ?? 0)
    ? options.interactiveLevel
    : options.level;
}

/** Options for a `LogFloodGate`. */
export interface LogFloodGateOptions {
  windowMs: number;
  /** Kinds remembered at once; the oldest is forgotten past it. Default 1,000. */
  maxKinds?: number;
  now?: () => number;
}

interface FloodKind {
  windowStartMs: number;
  suppressed: number;
  /** Writes the summary line for this kind. */
  flush: (suppressed: number) => void;
}

/**
 * Rate-limits log lines by kind (level and message): the first line of a kind in a window is written in full;
 * the rest of that window's lines of that kind are only counted, and one summary line with the count is
 * written when the window ends. Bounded by kinds remembered, so a flood of distinct messages cannot grow it.
 * Hand-written because pino has no rate limit; it is one map lookup per warning or error, none for lower levels.
 */
export class LogFloodGate {
  readonly #kinds = new Map<string, FloodKind>();
  readonly #windowMs: number;
  readonly #maxKinds: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LogFloodGateOptions) {
    this.#windowMs = options.windowMs;
    this.#maxKinds = options.maxKinds ?? 1_000;
    this.#now = options.now ?? Date.now;
  }

  /** True when a line of this kind is to be written now; false when it was counted instead. */
  admit(kind: string, flush: (suppressed: number) => void): boolean {
    const nowMs = this.#now();
    const entry = this.#kinds.get(kind);
    if (entry !== undefined && nowMs - entry.windowStartMs < this.#windowMs) {
      entry.suppressed++;
      entry.flush = flush;
      this.#arm();
      return false;
    }
    if (entry !== undefined) {
      this.#kinds.delete(kind);
      if (entry.suppressed > 0) entry.flush(entry.suppressed);
    }
    this.#kinds.set(kind, { windowStartMs: nowMs, suppressed: 0, flush });
    if (this.#kinds.size > this.#maxKinds) {
      const [oldestKind, oldest] = this.#kinds.entries().next().value!;
      this.#kinds.delete(oldestKind);
      if (oldest.suppressed > 0) oldest.flush(oldest.suppressed);
    }
    return true;
  }

  /** Write the summaries of every window that has ended (the timer does this; tests call it). */
  sweep(): void {
    const nowMs = this.#now();
    for (const [kind, entry] of this.#kinds) {
      if (nowMs - entry.windowStartMs < this.#windowMs) continue;
      this.#kinds.delete(kind);
      if (entry.suppressed > 0) entry.flush(entry.suppressed);
    }
    if (this.#kinds.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.sweep(), this.#windowMs);
    this.#timer.unref();
  }
}

/** The message of a pino call's arguments (`log.warn(obj, msg)` or `log.warn(msg)`), or the error's message. */
function messageOf(args: unknown[]): string {
  const [first, second] = args;
  if (typeof first === "string") return first;
  if (typeof second === "string") return second;
  const err = (first as { err?: unknown } | undefined)?.err;
  return err instanceof Error ? err.message : "";
}

/** Create the process logger. */
export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.file === undefined
      ? (options.destination ?? process.stderr)
      : pino.destination({ dest: options.file, mkdir: true, append: true, sync: true });
  const stream = options.format === "json" ? destination : prettyStream(destination as NodeJS.WritableStream);
  const gate = new LogFloodGate({ windowMs: options.floodWindowMs ?? 60_000 });
  return pino(
    {
      level: effectiveLogLevel(options),
      base: undefined,
      hooks: {
        logMethod(args, method, level) {
          if (level < 40) return method.apply(this, args);
          const message = messageOf(args);
          const isWritten = gate.admit(`${level}\u0000${message}`, (suppressed) =>
            method.call(this, { suppressed }, `${message} (repeated ${suppressed} more times; details suppressed)`),
          );
          if (isWritten) method.apply(this, args);
        },
      },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    stream as pino.DestinationStream,
  );
}

/** Show only the first and last characters of a secret: `1234…wxyz (46 chars)`. */
export function maskSecret(secret: string | undefined): string {
  if (secret === undefined || secret === "") return "(not set)";
  if (secret.length <= 8) return `${"*".repeat(secret.length)} (${secret.length} chars)`;
  return `${secret.slice(0, 4)}…${secret.slice(-4)} (${secret.length} chars)`;
}
