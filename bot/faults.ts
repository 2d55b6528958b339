/**
 * Containment of library faults: a process-level `unhandledRejection`/`uncaughtException` guard that attributes
 * a failure to the adapter whose SDK (or code) raised it and restarts that adapter's connection instead of
 * ending the process. Attribution reads the error's stack: a frame inside a platform SDK's package
 * (`grammy`, `discord.js`/`@discordjs/*`, `@slack/*`) or inside `adapters/<platform>/` names the platform.
 * (An async-context tag was tried and dropped: Node emits both events from the top of the stack, where the
 * failing callback's context is no longer current.)
 */
import type { Logger } from "pino";

/** Stack frames that name a platform: its SDK's packages, or our adapter's own folder. */
const PLATFORM_FRAMES: ReadonlyArray<readonly [string, RegExp]> = [
  ["telegram", /node_modules[\\/](?:grammy|@grammyjs)[\\/]|[\\/]adapters[\\/]telegram[\\/]/],
  ["discord", /node_modules[\\/](?:discord\.js|@discordjs[\\/][^\\/]+)[\\/]|[\\/]adapters[\\/]discord[\\/]/],
  ["slack", /node_modules[\\/]@slack[\\/]|[\\/]adapters[\\/]slack[\\/]/],
];

/**
 * The platform whose SDK or adapter raised `error`, judged by the first stack frame that names one; undefined
 * when no frame does (or there is no stack).
 */
export function attributeFault(error: unknown): string | undefined {
  const stack = error instanceof Error ? error.stack : undefined;
  if (typeof stack !== "string") return undefined;
  for (const line of stack.split("\n")) {
    if (!line.trimStart().startsWith("at ")) continue;
    for (const [platform, pattern] of PLATFORM_FRAMES) if (pattern.test(line)) return platform;
  }
  return undefined;
}

/** Options for `installFaultGuard`. */
export interface FaultGuardOptions {
  log: Logger;
  /**
   * Restart the named adapter's connection. Returns false when no such adapter runs (the fault is then treated
   * as unattributed).
   */
  recover(platform: string, reason: string): boolean;
  /** Ends the process after an unattributed uncaught exception. Default `process.exit`. */
  exit?(code: number): void;
  /** Least time between two restarts of one adapter, in ms; faults in between are only counted. Default 5 s. */
  restartIntervalMs?: number;
}

/**
 * Install the guard; returns the function that removes it. An attributed fault restarts its adapter (at most
 * once per `restartIntervalMs`). An unattributed rejection is logged and the process goes on (a rejected
 * promise leaves no half-done synchronous state); an unattributed uncaught exception is logged and ends the
 * process with exit code 1, as Node would, since the state it interrupted is unknown.
 */
export function installFaultGuard(options: FaultGuardOptions): () => void {
  const { log } = options;
  const restartIntervalMs = options.restartIntervalMs ?? 5_000;
  const lastRestartAt = new Map<string, number>();
  const exit = options.exit ?? ((code: number) => process.exit(code));

  const contain = (error: unknown, kind: "unhandledRejection" | "uncaughtException"): boolean => {
    const platform = attributeFault(error);
    if (platform === undefined) return false;
    const now = Date.now();
    const last = lastRestartAt.get(platform);
    if (last !== undefined && now - last < restartIntervalMs) {
      log.warn({ platform, kind, err: error }, "platform SDK fault contained (restart already under way)");
      return true;
    }
    const reason = `${kind} in the ${platform} SDK: ${error instanceof Error ? error.message : String(error)}`;
    if (!options.recover(platform, reason)) return false;
    lastRestartAt.set(platform, now);
    log.error({ platform, kind, err: error }, "platform SDK fault contained; restarting that adapter");
    return true;
  };

  const onRejection = (reason: unknown): void => {
    if (contain(reason, "unhandledRejection")) return;
    log.error({ err: reason }, "unhandled promise rejection (not attributed to an adapter); carrying on");
  };
  const onException = (error: Error): void => {
    if (contain(error, "uncaughtException")) return;
    log.fatal({ err: error }, "uncaught exception outside any adapter; exiting");
    exit(1);
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
