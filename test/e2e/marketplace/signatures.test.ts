/** Registry signatures: verified where the registry publishes keys, and required when configured. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Installer } from "../../../marketplace/installer.ts";
import { RegistryClient } from "../../../marketplace/registry.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startSigningProxy, type SigningProxy } from "../../stand-ins/verdaccio/signing-proxy.ts";
import { listFiles, startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";

// npm publish and store start-up are slow on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

let registry: TestRegistry;
let proxy: SigningProxy;
let work: string;
let n = 0;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startSigningProxy(registry.url);
  work = await mkdtemp(join(tmpdir(), "sb-mk-sig-"));
  for (const name of ["switchboard-skill-signed", "switchboard-skill-forged", "switchboard-skill-plain"]) {
    await registry.publish(await writeSkill(join(work, name), { name, version: "1.0.0" }));
  }
  proxy.badlySigned.add("switchboard-skill-forged");
  proxy.unsigned.add("switchboard-skill-plain");
});

afterAll(async () => {
  await proxy?.close();
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

function installer(url: string, requireSignatures: boolean): Installer {
  const dir = join(work, `data-${n++}`);
  const client = new RegistryClient({
    settings: { registry: url, scopes: {}, tokens: {} },
    cacheDir: join(dir, "cache"),
    timeoutMs: 20_000,
    requireSignatures,
  });
  return new Installer({
    skillsDir: join(dir, "skills"),
    registry: client,
    limits: { maxFiles: 50, maxUnpackedBytes: 1_000_000, maxTarballBytes: 1_000_000 },
  });
}

describe("registry signatures", () => {
  it("verifies a signed package and says so in the plan", async () => {
    const result = await installer(proxy.url, true).install("switchboard-skill-signed", { actor: "cli:test" });
    expect(result.status).toBe("installed");
    expect(result.plan.signatureVerified).toBe(true);
  });

  it("refuses a package whose signature does not verify, writing nothing", async () => {
    const inst = installer(proxy.url, false);
    await expect(inst.install("switchboard-skill-forged", { actor: "cli:test" })).rejects.toMatchObject({
      code: "E_INTEGRITY",
      chatMessage: expect.stringContaining("registry signature did not verify"),
    });
    expect(await listFiles(inst.skillsDir)).toEqual([]);
  });

  it("with signatures required, refuses an unsigned version", async () => {
    await expect(
      installer(proxy.url, true).install("switchboard-skill-plain", { actor: "cli:test" }),
    ).rejects.toMatchObject({
      code: "E_INTEGRITY",
      chatMessage: expect.stringContaining("this version is not signed"),
    });
  });

  it("with signatures required, refuses a registry that publishes no keys", async () => {
    await expect(
      installer(registry.url, true).install("switchboard-skill-signed", { actor: "cli:test" }),
    ).rejects.toMatchObject({
      code: "E_INTEGRITY",
      chatMessage: expect.stringContaining("the registry publishes no signing keys"),
    });
  });

  it("without the requirement, installs from a registry without keys (integrity still checked)", async () => {
    const result = await installer(registry.url, false).install("switchboard-skill-plain", { actor: "cli:test" });
    expect(result.plan.signatureVerified).toBe(false);
  });
});
