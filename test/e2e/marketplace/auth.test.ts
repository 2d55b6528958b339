/** Scoped registries and auth tokens: a private scope needs its token, from config or an .npmrc. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../../config/index.ts";
import { Marketplace } from "../../../marketplace/service.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";

// npm publish and store start-up are slow on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

let publicRegistry: TestRegistry;
let privateRegistry: TestRegistry;
let work: string;
let n = 0;

beforeAll(async () => {
  [publicRegistry, privateRegistry] = await Promise.all([startRegistry(), startRegistry({ privateScope: "@team" })]);
  work = await mkdtemp(join(tmpdir(), "sb-mk-auth-"));
  await privateRegistry.publish(
    await writeSkill(join(work, "p"), { name: "@team/switchboard-skill-secret", version: "1.0.0" }),
  );
  await publicRegistry.publish(await writeSkill(join(work, "q"), { name: "switchboard-skill-open", version: "1.0.0" }));
});

afterAll(async () => {
  await Promise.all([publicRegistry?.close(), privateRegistry?.close()]);
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

function marketplace(section: Record<string, unknown>): Marketplace {
  const dir = join(work, `data-${n++}`);
  return new Marketplace({
    config: configSchema.parse({ marketplace: section }).marketplace,
    ...Marketplace.dirs(dir),
    env: {},
  });
}

describe("scoped registries and tokens", () => {
  it("refuses a private scoped package without a token, with a clear reason", async () => {
    const m = marketplace({ registry: publicRegistry.url, scopes: { "@team": privateRegistry.url } });
    await expect(m.install("@team/switchboard-skill-secret", { actor: "cli:test" })).rejects.toMatchObject({
      chatMessage: expect.stringContaining(
        "refused access to @team/switchboard-skill-secret@latest (check the auth token)",
      ),
    });
  });

  it("installs it with the token from config, while other names use the default registry", async () => {
    const m = marketplace({
      registry: publicRegistry.url,
      scopes: { "@team": privateRegistry.url },
      tokens: { [privateRegistry.url]: privateRegistry.token },
    });
    const secret = await m.install("@team/switchboard-skill-secret", { actor: "cli:test" });
    expect(secret.entry).toMatchObject({
      name: "@team/switchboard-skill-secret",
      skill: "secret",
      registry: privateRegistry.url,
    });
    const open = await m.install("switchboard-skill-open", { actor: "cli:test" });
    expect(open.entry).toMatchObject({ registry: publicRegistry.url });
    expect((await m.verify()).map((v) => v.problems)).toEqual([[], []]);
    await m.uninstall("@team/switchboard-skill-secret", "cli:test");
    expect((await m.list()).map((s) => s.entry.name)).toEqual(["switchboard-skill-open"]);
  });

  it("reads the scope and token from an .npmrc, expanding ${ENV}", async () => {
    const npmrc = join(work, ".npmrc-team");
    const host = new URL(privateRegistry.url).host;
    await writeFile(npmrc, `@team:registry=${privateRegistry.url}\n//${host}/:_authToken=\${TEAM_TOKEN}\n`);
    const dir = join(work, `data-${n++}`);
    const m = new Marketplace({
      config: configSchema.parse({ marketplace: { registry: publicRegistry.url, npmrc } }).marketplace,
      ...Marketplace.dirs(dir),
      env: { TEAM_TOKEN: privateRegistry.token },
    });
    const info = await m.info("@team/switchboard-skill-secret");
    expect(info.versions.map((v) => v.version)).toEqual(["1.0.0"]);
  });
});
