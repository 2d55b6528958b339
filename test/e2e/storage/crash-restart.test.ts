/**
 * A bot process killed without closing its embedded store loses nothing it had written, and the next start takes
 * over the data folder (the dead process's lock is stale).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../../bot/index.ts";

const dataDir = await mkdtemp(join(tmpdir(), "switchboard-crash-"));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

function runChild(): Promise<{ stdout: string; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "../../fixtures/storage/write-and-die.ts"), dataDir],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (_code, signal) => resolve({ stdout, signal, stderr }));
  });
}

describe("embedded store after a crash", { timeout: 300_000 }, () => {
  it("keeps policies, audit entries and kv data written before SIGKILL, and reopens the folder", async () => {
    const child = await runChild();
    expect(child.stdout, child.stderr).toContain("written");
    expect(child.signal).toBe("SIGKILL");
    // The dead process's lock is still there.
    expect(Number.parseInt(await readFile(join(dataDir, "db.lock"), "utf8"), 10)).toBeGreaterThan(0);

    const store = await openStore({ dataDir });
    try {
      expect((await store.chats.getPolicy("telegram:-1"))?.commandRoles).toEqual({ deploy: "admin" });
      expect(await store.audit.list("telegram:-1")).toEqual([
        expect.objectContaining({ actor: "telegram:1", target: "deploy", after: "admin" }),
      ]);
      expect(await store.kv.get("skill:dice", "telegram:-1", "last")).toBe(6);
    } finally {
      await store.close();
    }
  });
});
