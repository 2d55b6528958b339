/**
 * Marketplace benchmark: install time of a ~100 KB skill from a local Verdaccio (target ≤ 500 ms) and search
 * time, each against a baseline measured in the same run (a plain `fetch` of the same tarball / search URL).
 * Run: `npx node test/bench/marketplace.ts`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Installer } from "../../marketplace/installer.ts";
import { RegistryClient } from "../../marketplace/registry.ts";
import { writeSkill } from "../fixtures/marketplace/packages.ts";
import { startRegistry } from "../stand-ins/verdaccio/index.ts";

const ROUNDS = 15;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const work = await mkdtemp(join(tmpdir(), "sb-bench-mk-"));
const registry = await startRegistry();
try {
  // ~100 KB of JavaScript that does not compress away: base64 of random bytes inside string literals.
  const filler = Array.from(
    { length: 100 },
    (_, i) => `var d${i} = ${JSON.stringify(randomBytes(750).toString("base64"))};`,
  ).join("\n");
  const entrySource = `${filler}\nvar skill = { default: { commands: { bench: async () => "ok" } } };\n`;
  await registry.publish(
    await writeSkill(join(work, "pkg"), { name: "switchboard-skill-bench", version: "1.0.0", entrySource }),
  );
  for (let i = 0; i < 5; i++)
    await registry.publish(
      await writeSkill(join(work, `pkg-s${i}`), { name: `switchboard-skill-search-${i}`, version: "1.0.0" }),
    );

  const client = new RegistryClient({
    settings: { registry: registry.url, scopes: {}, tokens: {} },
    cacheDir: join(work, "cache"),
    timeoutMs: 30_000,
    requireSignatures: false,
  });
  const resolved = await client.resolve("switchboard-skill-bench", "latest");
  const tarballBytes = (await client.download(resolved, { maxBytes: 10_000_000 })).length;

  const installMs: number[] = [];
  const fetchMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const res = await fetch(resolved.resolved);
    await res.arrayBuffer();
    fetchMs.push(performance.now() - t0);

    const installer = new Installer({
      skillsDir: join(work, `skills-${i}`),
      registry: client,
      limits: { maxFiles: 500, maxUnpackedBytes: 20_000_000, maxTarballBytes: 5_000_000 },
    });
    const t1 = performance.now();
    await installer.install("switchboard-skill-bench", { actor: "bench" });
    installMs.push(performance.now() - t1);
  }

  const searchMs: number[] = [];
  const rawSearchMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${registry.url}-/v1/search?text=search&size=20`);
    await res.json();
    rawSearchMs.push(performance.now() - t0);
    const t1 = performance.now();
    const hits = await client.search("search");
    searchMs.push(performance.now() - t1);
    if (hits.length !== 5) throw new Error(`expected 5 hits, got ${hits.length}`);
  }

  const install = median(installMs);
  const baseFetch = median(fetchMs);
  const search = median(searchMs);
  const rawSearch = median(rawSearchMs);
  console.log(
    `marketplace benchmark (${ROUNDS} rounds, medians; tarball ${(tarballBytes / 1024).toFixed(1)} kB, unpacked entry ${(entrySource.length / 1024).toFixed(1)} kB)`,
  );
  console.log(
    `  install (resolve + download + verify + extract + lockfile): ${install.toFixed(1)} ms  (target ≤ 500 ms: ${install <= 500 ? "met" : "MISSED"})`,
  );
  console.log(
    `  baseline plain fetch of the same tarball:                   ${baseFetch.toFixed(1)} ms  (install/fetch ratio ${(install / baseFetch).toFixed(1)}x)`,
  );
  console.log(`  search (two queries merged, keyword filtered):              ${search.toFixed(1)} ms`);
  console.log(
    `  baseline one plain search request:                          ${rawSearch.toFixed(1)} ms  (ratio ${(search / rawSearch).toFixed(1)}x)`,
  );
} finally {
  await registry.close();
  await rm(work, { recursive: true, force: true });
}
