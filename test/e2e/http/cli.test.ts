/**
 * `switchboard tokens create|list|revoke` and `switchboard console link|sessions|revoke` on the host, against the
 * embedded store of a data folder; then a bot on that folder honours what they made.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../../bot/index.ts";
import { startTestBot } from "../../helpers/app.ts";
import { runCli } from "../../helpers/cli.ts";

let work: string;
let dataDir: string;
let configFile: string;
const cli = (...args: string[]) => runCli(args, { configFile });

/** Start a bot on the data folder, run `fn` against its listener, stop it. */
async function withBot(fn: (base: string) => Promise<void>): Promise<void> {
  const bot = await startTestBot({
    store: await openStore({ dataDir }),
    set: { "bot.dataDir": dataDir, "http.publicUrl": "https://bot.example.com" },
  });
  try {
    await fn(`http://127.0.0.1:${bot.app.httpAddress()!.port}`);
  } finally {
    await bot.stop();
    await bot.app.core.store.close();
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sb-console-cli-"));
  dataDir = join(work, "data");
  configFile = join(work, "switchboard.config.json");
  await writeFile(
    configFile,
    JSON.stringify({ bot: { dataDir }, log: { level: "silent" }, http: { publicUrl: "https://bot.example.com" } }),
  );
});
afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("switchboard tokens and console", () => {
  it("creates a scoped token shown once, lists it without its secret, and revokes it", async () => {
    const created = await cli("tokens", "create", "--scope", "read", "--scope", "schedules", "--name", "ci");
    expect(created.code, created.err).toBe(0);
    const token = created.out.trim();
    expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/shown once/);
    const id = token.slice(4, 16);

    const listed = await cli("tokens", "list");
    expect(listed.out).toContain(id);
    expect(listed.out).toContain('token "ci" [read,schedules]');
    expect(listed.out).not.toContain(token.slice(17));

    await withBot(async (base) => {
      const me = await fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { principal: { userKey: string; scopes: string[] } }).principal).toMatchObject({
        userKey: "console:operator",
        scopes: ["read", "schedules"],
      });
    });

    expect((await cli("tokens", "revoke", id)).code).toBe(0);
    expect((await cli("tokens", "revoke", id)).code).toBe(1);
    await withBot(async (base) => {
      const me = await fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(401);
    });
  });

  it("refuses an unknown scope", async () => {
    const bad = await cli("tokens", "create", "--scope", "everything");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown scope everything/);
  });

  it("prints a single-use sign-in link at http.publicUrl, bound to the person named", async () => {
    const link = await cli("console", "link", "--as", "telegram:42", "--name", "Ada");
    expect(link.code, link.err).toBe(0);
    const url = new URL(link.out.trim());
    expect(url.origin).toBe("https://bot.example.com");
    expect(url.pathname).toBe("/console/sign-in");
    await withBot(async (base) => {
      const signIn = () =>
        fetch(`${base}/api/auth/sign-in`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code: url.hash.slice(6) }),
        });
      const first = await signIn();
      expect(first.status).toBe(200);
      expect(first.headers.get("set-cookie")).toMatch(/; Secure/);
      expect(((await first.json()) as { principal: { userKey: string } }).principal.userKey).toBe("telegram:42");
      expect((await signIn()).status).toBe(401);
    });
    const sessions = await cli("console", "sessions");
    expect(sessions.out).toMatch(/live\s+telegram:42\s+session/);
    const id = sessions.out
      .split("\n")
      .find((l) => l.includes("telegram:42"))!
      .split(/\s+/)[0]!;
    expect((await cli("console", "revoke", id)).code).toBe(0);
    expect((await cli("console", "sessions")).out).toMatch(/revoked\s+telegram:42\s+session/);
  });
});
