/**
 * Audit entries handed from the CLI to a running bot. With the embedded store only one process may open the
 * database, so while the bot runs the CLI appends its audit entries to `<skills>/audit-outbox.jsonl`; the bot
 * moves them into the audit log when it sees the file change (and at start).
 */
import { appendFile, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { AuditEntry } from "../bot/index.ts";

/** The outbox's file name, in the skills folder. */
export const OUTBOX_NAME = "audit-outbox.jsonl";

/** Append one entry (with its time) to the outbox. */
export async function appendToOutbox(skillsDir: string, entry: Omit<AuditEntry, "id">): Promise<void> {
  await appendFile(join(skillsDir, OUTBOX_NAME), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
}

/** Move every entry from the outbox into `audit`. Returns how many were moved; malformed lines are skipped. */
export async function drainOutbox(
  skillsDir: string,
  audit: (entry: Omit<AuditEntry, "id">) => Promise<void>,
): Promise<number> {
  const path = join(skillsDir, OUTBOX_NAME);
  const taken = `${path}.${process.pid}.draining`;
  try {
    await rename(path, taken);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  let moved = 0;
  for (const line of (await readFile(taken, "utf8")).split("\n")) {
    if (line.trim() === "") continue;
    let entry: Omit<AuditEntry, "id">;
    try {
      entry = JSON.parse(line) as Omit<AuditEntry, "id">;
    } catch {
      continue;
    }
    if (typeof entry.action !== "string" || typeof entry.actor !== "string" || typeof entry.chatKey !== "string")
      continue;
    await audit({ ...entry, actor: entry.actor.startsWith("cli:") ? entry.actor : `cli:${entry.actor}` });
    moved++;
  }
  await rm(taken, { force: true });
  return moved;
}
