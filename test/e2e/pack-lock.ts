/**
 * `npm pack` in the repository root runs prepack, which deletes and rebuilds `dist/`: two packs at once (the
 * journey test and the examples test in parallel workers) would read each other's half-built output. Tests that
 * pack hold this lock, a folder under `node_modules/.cache` created atomically with `mkdir`; a lock left by a
 * process that no longer runs is taken over.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const LOCK_WAIT_MS = 15 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run `work` while holding the repository's pack lock. */
export async function withPackLock<T>(repo: string, work: () => Promise<T>): Promise<T> {
  const lock = join(repo, "node_modules", ".cache", "switchboard-pack.lock");
  await mkdir(join(repo, "node_modules", ".cache"), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
      if (holder > 0 && !alive(holder)) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is still held by process ${holder}`);
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
