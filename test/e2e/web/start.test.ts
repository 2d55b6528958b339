/**
 * `switchboard start` with nothing configured (the console only, so no listener at start), then `/console`: the
 * link it prints works: opened in Chromium (when installed) it lands on the dashboard. The first `/console` opens the listener, the console's page is served from it, and the
 * link's code signs in once.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { artifact, chromiumAvailable, launchChromium } from "../../helpers/browser.ts";

const isChromiumThere = chromiumAvailable();
const BIN = resolve(import.meta.dirname, "../../../bin/switchboard.js");

describe("npm start, then /console", () => {
  let work: string | undefined;
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("prints a sign-in link whose page loads and whose code signs in once", async () => {
    work = await mkdtemp(join(tmpdir(), "sb-web-start-"));
    const child = spawn(process.execPath, [BIN, "start"], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: work,
        SWITCHBOARD_DATA_DIR: join(work, "data"),
        SWITCHBOARD_HTTP__PORT: "0",
        NODE_OPTIONS: process.env.NODE_OPTIONS ?? "",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const link = new Promise<string>((found, fail) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const url = /https?:\/\/\S+\/console\/sign-in#code=\S+/.exec(stdout)?.[0];
        if (url !== undefined) found(url);
      });
      child.on("close", () => fail(new Error(`exited before a link:\n${stdout}\n${stderr}`)));
    });
    const exited = new Promise<number | null>((done) => child.on("close", done));
    try {
      child.stdin.write("/console\n");
      const url = new URL(await link);
      const page = await fetch(new URL("/console/", url));
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await page.text()).toContain('<div id="app">');

      const code = url.hash.slice("#code=".length);
      const signIn = () =>
        fetch(new URL("/api/auth/sign-in", url), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ code }),
        });
      if (isChromiumThere) {
        // The link, opened in a browser, signs in and lands on the dashboard.
        const browser = await launchChromium();
        try {
          const tab = await browser.context.newPage();
          await tab.goto(url.href);
          await tab.getByRole("heading", { name: "Dashboard" }).waitFor({ timeout: 60_000 });
          expect(await tab.locator(".who").textContent()).toContain("(owner)");
          await tab.screenshot({ path: artifact("start-console-link.png") });
        } finally {
          await browser.close();
        }
      } else {
        const first = await signIn();
        expect(first.status).toBe(200);
        const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
        const me = (await (await fetch(new URL("/api/auth/me", url), { headers: { cookie } })).json()) as {
          principal: { userKey: string; isOwner: boolean };
        };
        expect(me.principal).toMatchObject({ userKey: "console:operator", isOwner: true });
      }
      expect((await signIn()).status).toBe(401);
    } finally {
      child.stdin.end();
    }
    expect(await exited).toBe(0);
  });
});
