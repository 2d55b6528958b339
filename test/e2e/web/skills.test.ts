/**
 * The web console's Skills page in Chromium against a real bot and a real Verdaccio: search the marketplace,
 * review the consent screen (the permissions the package asks for), approve and install with progress streamed,
 * then enable the skill in a chat granting what it asks for; update it to a version asking for more (the consent
 * screen marks what is new), roll it back, and uninstall it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createMarketplacePlugin } from "../../../marketplace/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { artifact, chromiumAvailable, launchChromium, type TestBrowser } from "../../helpers/browser.ts";
import { startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";

const isChromiumThere = chromiumAvailable();
// Verdaccio start-up, npm publish and an install are slow on a loaded 2-core machine.
const UI_TIMEOUT_MS = 120_000;

describe.skipIf(!isChromiumThere)("web console skills in Chromium", () => {
  let registry: TestRegistry;
  let work: string;
  let bot: TestBot;
  let chromium: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "sb-web-skills-"));
    await registry.publish(
      await writeSkill(join(work, "pkg"), {
        name: "switchboard-skill-weather",
        version: "1.0.0",
        description: "weather report",
        permissions: { network: ["api.weather.example"] },
      }),
    );
    let skillsReady!: (plugin: SkillsPlugin) => void;
    const skills = new Promise<SkillsPlugin>((resolve) => (skillsReady = resolve));
    bot = await startTestBot({
      set: {
        "bot.dataDir": join(work, "data"),
        "bot.owners": ["test:owner"],
        "skills.builtins": false,
        "marketplace.registry": registry.url,
      },
      plugins: [
        async (core) => {
          const plugin = await createSkillsPlugin(core);
          skillsReady(plugin);
          return plugin;
        },
        async (core) => createMarketplacePlugin(core, { skills: (await skills).service }),
      ],
    });
    await bot.app.core.store.chats.touch("test:A", { kind: "group", title: "Ops room" }, Date.now());
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    const { url } = await bot.app.admin.signInLink({ userKey: "test:owner", displayName: "owner" });
    await page.goto(url);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  }, 300_000);

  afterEach(async (context) => {
    if (context.task.result?.state === "fail" && page !== undefined)
      await page
        .screenshot({ path: artifact(`failed-skills-${context.task.name.slice(0, 40).replace(/\W+/g, "-")}.png`) })
        .catch(() => undefined);
  });

  afterAll(async () => {
    await chromium?.close();
    await bot?.stop();
    await registry?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("installs a skill through the consent screen and enables it for a chat", async () => {
    await page.getByRole("link", { name: "Skills" }).click();
    await page.getByLabel("Search").fill("weather");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByRole("button", { name: "Review install of switchboard-skill-weather" }).click();
    const consent = page.getByRole("dialog");
    await consent.getByText("network:api.weather.example").waitFor();
    expect(await consent.textContent()).toContain("(new)");
    await page.screenshot({ path: artifact("skills-consent.png"), fullPage: true });
    await consent.getByRole("button", { name: "Approve and install" }).click();
    await page.getByRole("status").getByText("Installed.").waitFor();
    expect(await page.getByLabel("Install progress").textContent()).toContain(
      "installed: switchboard-skill-weather@1.0.0",
    );

    await page.getByLabel("Chat", { exact: true }).selectOption("test:A");
    const row = page.getByRole("row").filter({ hasText: "switchboard-skill-weather@1.0.0" });
    await row.getByText("disabled").waitFor();
    await row.getByRole("button", { name: /^Enable/ }).click();
    await row.getByText("enabled", { exact: true }).waitFor();
    await row.getByRole("button", { name: "Settings of weather" }).click();
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByText("No settings are set.").waitFor();
    await page.getByLabel("Setting", { exact: true }).fill("units");
    await page.getByLabel("Value").fill("metric");
    await page.getByRole("button", { name: "Set", exact: true }).click();
    // The weather package declares no settings: the API's refusal is shown, nothing is stored.
    await page.locator("#settings-h ~ form output").getByText(/units/).waitFor();
    expect(await page.getByText("No settings are set.").count()).toBe(1);
    await page.screenshot({ path: artifact("skills-enabled.png"), fullPage: true });
    const state = (await (
      await fetch(`http://127.0.0.1:${bot.app.httpAddress()!.port}/api/chats/test:A/skills`, {
        headers: { cookie: (await chromium.context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ") },
      })
    ).json()) as { skills: { state: string }[] };
    expect(state.skills.map((s) => s.state)).toEqual(["enabled"]);
  });

  it("updates through the consent screen with the permission diff, rolls back, and uninstalls", {
    timeout: 300_000,
  }, async () => {
    await registry.publish(
      await writeSkill(join(work, "pkg-1.1"), {
        name: "switchboard-skill-weather",
        version: "1.1.0",
        description: "weather report, with alerts",
        permissions: { network: ["api.weather.example", "alerts.weather.example"] },
      }),
    );
    const installed = page.getByRole("table", { name: "Installed skills" });
    const row = installed.getByRole("row").filter({ hasText: "switchboard-skill-weather" });
    await row.getByText("1.0.0").waitFor();
    await row.getByRole("button", { name: "Review update of switchboard-skill-weather" }).click();
    const consent = page.getByRole("dialog", { name: /update switchboard-skill-weather@1\.1\.0/ });
    await consent.getByText("(from 1.0.0)").waitFor();
    // The permission diff: the new host is marked new, the kept one is not.
    const asks = await consent.getByRole("listitem").allTextContents();
    expect(asks).toEqual(["network:alerts.weather.example (new)", "network:api.weather.example"].sort());
    await page.screenshot({ path: artifact("skills-update-consent.png"), fullPage: true });
    await consent.getByRole("button", { name: "Approve and update" }).click();
    await page.getByRole("status").getByText("Updated to 1.1.0.").waitFor();
    await row.getByText("1.1.0").waitFor();

    await row.getByRole("button", { name: "Roll back switchboard-skill-weather" }).click();
    await page.getByRole("status").getByText("switchboard-skill-weather rolled back from 1.1.0 to 1.0.0.").waitFor();
    await row.getByText("1.0.0").waitFor();

    await row.getByRole("button", { name: "Uninstall switchboard-skill-weather" }).click();
    const confirm = page.getByRole("dialog", { name: "Uninstall switchboard-skill-weather?" });
    await confirm.getByLabel("Also delete its stored data").check();
    await confirm.getByRole("button", { name: "Confirm uninstall" }).click();
    await page
      .getByRole("status")
      .getByText(/switchboard-skill-weather@1\.0\.0 uninstalled/)
      .waitFor();
    await page.getByText("No skills are installed.").waitFor();
    await page.screenshot({ path: artifact("skills-uninstalled.png"), fullPage: true });

    // Each change is in the audit trail as the signed-in owner, via the web.
    const audit = await bot.app.core.store.audit.list("*", { limit: 50, actor: "test:owner" });
    const requests = audit.filter((e) => e.action.endsWith(".request")).map((e) => `${e.action} via ${e.via}`);
    expect(requests.slice(0, 3)).toEqual([
      "skills.uninstall.request via web",
      "skills.rollback.request via web",
      "skills.update.request via web",
    ]);
  });
});
