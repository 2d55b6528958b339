import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, envOverrides, loadConfig, parseConfig } from "../../../config/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function loadError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("starts from defaults with no file and no environment", () => {
    const { config, file } = loadConfig({ cwd: dir, env: {} });
    expect(file).toBeUndefined();
    expect(config.adapters.console.enabled).toBe(true);
    expect(config.http.port).toBe(8080);
    expect(config.bot.dataDir).toBe(join(dir, "data"));
    expect(config.permissions.newChats).toBe("locked");
  });

  it("reads a YAML file and applies well-known and SWITCHBOARD_* environment overrides over it", async () => {
    await writeFile(join(dir, "switchboard.config.yaml"), "bot:\n  name: opsbot\nhttp:\n  port: 9000\n");
    const { config, fromEnv } = loadConfig({
      cwd: dir,
      env: {
        TELEGRAM_BOT_TOKEN: "123:abc",
        SWITCHBOARD_HTTP__PORT: "9100",
        SWITCHBOARD_OWNERS: "telegram:1, slack:U2",
        SWITCHBOARD_LIMITS__PER_USER__BURST: "4",
      },
    });
    expect(config.bot.name).toBe("opsbot");
    expect(config.http.port).toBe(9100);
    expect(config.adapters.telegram.token).toBe("123:abc");
    expect(config.bot.owners).toEqual(["telegram:1", "slack:U2"]);
    expect(config.limits.perUser.burst).toBe(4);
    expect(fromEnv.map((o) => o.variable).sort()).toEqual([
      "SWITCHBOARD_HTTP__PORT",
      "SWITCHBOARD_LIMITS__PER_USER__BURST",
      "SWITCHBOARD_OWNERS",
      "TELEGRAM_BOT_TOKEN",
    ]);
    await rm(join(dir, "switchboard.config.yaml"));
  });

  it("names the key, the source and an example when a value is wrong", async () => {
    await writeFile(join(dir, "bad.json"), JSON.stringify({ http: { port: "eighty" }, bot: { owners: ["12345"] } }));
    const error = loadError(() => loadConfig({ cwd: dir, env: { SWITCHBOARD_CONFIG: "bad.json" } }));
    expect(error.issues.map((i) => i.key).sort()).toEqual(["bot.owners.0", "http.port"]);
    expect(error.message).toMatch(/http\.port: .*number.*\(from file .*bad\.json\)\. Example: http\.port: 8080/);
    expect(error.message).toMatch(/bot\.owners\.0: owners are written platform:userId/);
  });

  it("names environment variables as the source of a bad value, and unknown keys", async () => {
    const fromEnv = loadError(() => loadConfig({ cwd: dir, env: { SWITCHBOARD_HTTP__PORT: "99999" } }));
    expect(fromEnv.message).toMatch(/http\.port: .* \(from environment SWITCHBOARD_HTTP__PORT\)/);
    await writeFile(join(dir, "typo.yaml"), "htp:\n  port: 1\n");
    const typo = loadError(() => loadConfig({ cwd: dir, env: {}, file: "typo.yaml" }));
    expect(typo.message).toMatch(/htp: unknown key \(from file .*typo\.yaml\)/);
    await writeFile(join(dir, "misspelt.yaml"), "http:\n  prot: 9000\nstorage:\n  redisRequierd: false\n");
    const misspelt = loadError(() => loadConfig({ cwd: dir, env: {}, file: "misspelt.yaml" }));
    expect(misspelt.message).toMatch(/http\.prot: unknown key \(from file .*misspelt\.yaml\)/);
    expect(misspelt.message).toMatch(/storage\.redisRequierd: unknown key \(from file .*misspelt\.yaml\)/);
    expect(misspelt.message).not.toMatch(/from defaults/);
  });

  it("refuses prototype keys and reports unreadable files clearly", async () => {
    expect(() => envOverrides({ SWITCHBOARD___PROTO____X: "1" })).not.toThrow();
    const proto = loadError(() => loadConfig({ cwd: dir, env: {}, overrides: { "__proto__.polluted": true } }));
    expect(proto.message).toMatch(/Refusing config key/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await writeFile(join(dir, "broken.yaml"), "bot: [unclosed\n");
    expect(loadError(() => loadConfig({ cwd: dir, env: {}, file: "broken.yaml" })).message).toMatch(
      /Cannot read config file .*broken\.yaml/,
    );
    expect(loadError(() => loadConfig({ cwd: dir, env: {}, file: "missing.yaml" })).message).toMatch(
      /Config file not found/,
    );
  });

  it("takes named principals and refuses one identity named twice, a principal as an identity, or an owner role", () => {
    const ok = parseConfig({
      permissions: { principals: { ada: { identities: ["telegram:7", "slack:U7"], role: "admin" } } },
    });
    expect(ok.permissions.principals.ada).toEqual({ identities: ["telegram:7", "slack:U7"], role: "admin" });
    expect(parseConfig({}).permissions.principals).toEqual({});
    const twice = { ada: { identities: ["telegram:7"] }, bo: { identities: ["telegram:7"] } };
    expect(() => parseConfig({ permissions: { principals: twice } })).toThrow(
      /telegram:7 is already an identity of principal ada/,
    );
    expect(() => parseConfig({ permissions: { principals: { ada: { identities: ["principal:bo"] } } } })).toThrow(
      /not a principal/,
    );
    expect(() =>
      parseConfig({ permissions: { principals: { ada: { identities: ["telegram:7"], role: "owner" } } } }),
    ).toThrow(ConfigError);
    expect(() => parseConfig({ permissions: { principals: { Ada: { identities: ["telegram:7"] } } } })).toThrow(
      /permissions\.principals\.Ada/,
    );
  });
});
