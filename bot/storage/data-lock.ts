/**
 * One process per embedded database. The store assumes one writer (its transactions queue in process), and two processes writing one data
 * folder would corrupt it, so the folder gets a lock file holding the owner's pid. A lock left by a process that
 * no longer runs (or holding our own pid, as after a container restart) is taken over. Two machines sharing one
 * data folder over a network filesystem are not detected: use PostgreSQL for that.
 */
import { open, readFile, rm } from "node:fs/promises";
import { SwitchboardError } from "../errors.ts";

/** A held lock; `release` removes the lock file. */
export interface DataLock {
  readonly path: string;
  release(): Promise<void>;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const held = new Set<string>();

/** Take the lock at `path`, or throw `E_STORAGE` naming the process that holds it. */
export async function acquireDataLock(path: string): Promise<DataLock> {
  if (held.has(path)) {
    throw new SwitchboardError(
      "E_STORAGE",
      `the embedded database lock ${path} is already held by this process (is the store opened twice?)`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      held.add(path);
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          held.delete(path);
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      // Our own pid in the file is a previous life of this pid (a restarted container is pid 1 again): stale.
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid)) {
        throw new SwitchboardError(
          "E_STORAGE",
          `the embedded database is in use by process ${pid} (lock file ${path}); stop it, or delete the file if that process is not Switchboard`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new SwitchboardError("E_STORAGE", `could not take the embedded database lock ${path}`);
}
