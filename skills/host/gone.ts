/**
 * When a child process is gone and its output read to its end. Node's own `close` event never comes for a child
 * whose IPC channel the parent disconnected (Node 24: `exit` does, `close` does not), so this waits for the
 * `exit` and for the end of each piped output stream itself.
 */
import type { ChildProcess } from "node:child_process";

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
