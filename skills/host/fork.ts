/**
 * Forking a skill host, as the bot does for the shared hosts (`runtime/host-child.ts`) and the spawner for the
 * hosts of their own (`spawner.ts`): one place for what a host gets (no environment, piped output, a JSON IPC
 * channel, its niceness) and for knowing when it is gone.
 */
import { type ChildProcess, fork } from "node:child_process";
import { setPriority } from "node:os";
import type { FromHost } from "./protocol.ts";

/** What starting a host takes. */
export interface HostForkRequest {
  entry: string;
  args: string[];
  execArgv: string[];
  /** Niceness of the host's main thread right after its fork (0: the forking process's own). */
  nice: number;
}

/** What a forked host reports. */
export interface HostForkHandlers {
  message(message: FromHost): void;
  output(stream: "stdout" | "stderr", text: string): void;
  error(error: Error): void;
  /** Once: the process is gone and its output read to its end (or its fork failed). */
  close(code: number | null, signal: NodeJS.Signals | null): void;
  /** Lowering the main thread's niceness failed. */
  reniceFailed?(error: Error): void;
}

/** Fork a host (throws when the fork itself fails at once). */
export function forkHostProcess(request: HostForkRequest, on: HostForkHandlers): ChildProcess {
  const child = fork(request.entry, request.args, {
    execPath: process.execPath,
    execArgv: request.execArgv,
    // No secrets: the host gets an empty environment.
    env: {},
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
  });
  if (request.nice > 0 && child.pid !== undefined) {
    try {
      setPriority(child.pid, request.nice);
    } catch (error) {
      on.reniceFailed?.(error as Error);
    }
  }
  child.on("message", (m: FromHost) => on.message(m));
  child.stdout?.on("data", (chunk: Buffer) => on.output("stdout", chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => on.output("stderr", chunk.toString("utf8")));
  let closed = false;
  const close = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (closed) return;
    closed = true;
    on.close(code, signal);
  };
  child.on("error", (error) => {
    on.error(error);
    // A fork that failed (no pid: EAGAIN, EMFILE) has no exit to wait for.
    if (child.pid === undefined) close(null, null);
  });
  onGone(child, close);
  return child;
}

/**
 * When a child process is gone and its output read to its end. Node's own `close` event never comes for a child
 * whose IPC channel the parent disconnected (Node 24: `exit` does, `close` does not), so this waits for the
 * `exit` and for the end of each piped output stream itself.
 */
export function onGone(
  child: ChildProcess,
  listener: (code: number | null, signal: NodeJS.Signals | null) => void,
): void {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null);
  let waiting = streams.length + 1;
  let code: number | null = null;
  let signal: NodeJS.Signals | null = null;
  const done = (): void => {
    waiting--;
    if (waiting === 0) listener(code, signal);
  };
  for (const stream of streams) stream.once("close", done);
  child.once("exit", (c, s) => {
    code = c;
    signal = s;
    done();
  });
}
