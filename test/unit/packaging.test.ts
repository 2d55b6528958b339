/**
 * What ships besides code, read from the files themselves: the licence matches both package.json files, the
 * Dockerfile runs the tested pack-and-install path as a non-root user with data in a volume and a health check on
 * /readyz, and compose.yaml runs the bot with PostgreSQL and Redis, each with a health check and a named volume.
 * No Docker daemon runs here, so the image itself is not built (README says so).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (path: string): string => readFileSync(resolve(ROOT, path), "utf8");

describe("packaging", () => {
  it("LICENSE files name the licence both package.json files declare", () => {
    for (const dir of [".", "skills/sdk"]) {
      const { license } = JSON.parse(read(`${dir}/package.json`)) as { license: string };
      expect(license).toBe("MIT");
      expect(read(`${dir}/LICENSE`).split("\n")[0]).toBe(`${license} License`);
    }
    const { files } = JSON.parse(read("package.json")) as { files: string[] };
    expect(files).toContain("LICENSE");
  });

  it("the Dockerfile packs and installs with --omit=dev, runs as a non-root user, keeps data in a volume and checks /readyz", () => {
    const docker = read("Dockerfile");
    const stages = docker.split("\n").filter((l) => l.startsWith("FROM "));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(docker).toMatch(/npm pack --workspaces --include-workspace-root/);
    expect(docker).toMatch(/npm install --omit=dev/);
    const user = /^USER (\S+)$/m.exec(docker)?.[1];
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
    expect(docker).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(docker).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD [^\n]*\/readyz/m);
  });

  it("compose.yaml runs the bot, PostgreSQL and Redis, each with a health check and a named volume", () => {
    const compose = parseYaml(read("compose.yaml")) as {
      services: Record<string, { healthcheck?: { test: unknown }; volumes?: string[]; depends_on?: object }>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(["bot", "db", "redis"]);
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.healthcheck?.test, name).toBeDefined();
      const named = (service.volumes ?? []).map((v) => v.split(":")[0]!);
      expect(named.length, name).toBeGreaterThan(0);
      for (const volume of named) expect(Object.keys(compose.volumes), name).toContain(volume);
    }
    expect(JSON.stringify(compose.services.bot!.healthcheck!.test)).toContain("/readyz");
    expect(compose.services.bot!.depends_on).toEqual({
      db: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
  });
});
