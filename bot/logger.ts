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

/** Create the process logger. */
export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.file === undefined
      ? (options.destination ?? process.stderr)
      : pino.destination({ dest: options.file, mkdir: true, append: true, sync: true });
  const stream = options.format === "json" ? destination : prettyStream(destination as NodeJS.WritableStream);
  return pino(
    {
      level: effectiveLogLevel(options),
      base: undefined,
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
