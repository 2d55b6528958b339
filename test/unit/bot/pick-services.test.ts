import { describe, expect, it } from "vitest";
import { type Core, pickServices } from "../../../bot/index.ts";
import { LLM_NEEDS } from "../../../llm/index.ts";
import { MARKETPLACE_NEEDS } from "../../../marketplace/index.ts";
import { SCHEDULES_NEEDS } from "../../../schedules/index.ts";
import { SKILLS_NEEDS } from "../../../skills/index.ts";

// A stand-in bag: each service is a labelled object, so the test sees which ones were handed over.
const config = { bot: { name: "b" }, http: {}, log: {}, storage: {}, limits: {}, llm: {}, skills: {}, marketplace: {} };
const core = Object.fromEntries(
  ["log", "clock", "store", "kv", "commands", "permissions", "router", "adapters", "metrics", "tools"]
    .concat(["capabilities", "http", "audit", "track", "shutdownSignal", "version", "startedAt"])
    .map((k) => [k, { service: k }]),
) as unknown as Core;
Object.assign(core, { config });

describe("pickServices", () => {
  it("hands a module only the services and config sections it declares", () => {
    const picked = pickServices(core, { services: ["log", "store"], config: ["llm"] });
    expect(Object.keys(picked).sort()).toEqual(["config", "log", "store"]);
    expect(picked.log).toBe(core.log);
    expect(Object.keys(picked.config)).toEqual(["llm"]);
    expect(picked.config.llm).toBe(core.config.llm);
  });

  it("leaves the HTTP listener and unrelated config out of every feature module", () => {
    for (const needs of [SKILLS_NEEDS, MARKETPLACE_NEEDS, LLM_NEEDS, SCHEDULES_NEEDS]) {
      const picked = pickServices(core, needs) as unknown as Record<string, unknown>;
      expect(picked.http).toBeUndefined();
      expect(Object.keys(picked.config as object)).not.toContain("http");
      expect(Object.keys(picked.config as object)).not.toContain("storage");
    }
  });
});
