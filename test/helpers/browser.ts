/**
 * Debian's Chromium, driven by playwright-core, for the web console's browser tests. Headless, no sandbox (CI runs
 * as root), nothing fetched from the network, a fresh profile per launch. When `/usr/bin/chromium` is missing the
 * suite skips with one line saying what to install; under `CI=true` it fails (`.ci/run` installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

/** Where Debian installs Chromium. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where tests save screenshots (git-ignored). */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, "..", "artifacts");

/** True when Chromium is installed; otherwise one line to say how, or a failure under `CI=true`. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const hint = "install Chromium: apt-get update && apt-get install -y chromium";
  if (process.env.CI === "true") throw new Error(`CI=true but ${CHROMIUM_PATH} is missing: ${hint}`);
  console.warn(`[skip] browser tests skipped: ${hint}`);
  return false;
}

/** A launched browser with its own profile folder, removed on close. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launch headless Chromium with a fresh profile (`--user-data-dir`, which playwright sets from the folder). */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "sb-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 120_000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The path of an artifact, its folder created. */
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, name);
}
