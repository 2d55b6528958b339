/** Warming the shared skill host: its process starts and its loaded skills' isolates are compiled before any call. */
import { afterAll, describe, expect, it } from "vitest";
import type { HostSkillSpec } from "../../../skills/host/protocol.ts";
import { SkillHostSupervisor } from "../../../skills/runtime/supervisor.ts";

const SKILL = "var skill = { commands: { hi: function () { return 'hi'; } } };";

function spec(key: string): HostSkillSpec {
  return {
    key,
    name: key.split("@")[0]!,
    code: SKILL,
    memoryMb: 16,
    cpuMs: 500,
    timeoutMs: 2_000,
    maxResultChars: 10_000,
    maxCapArgChars: 10_000,
    maxCapCalls: 200,
    maxContexts: 2,
    idleMs: 60_000,
  };
}

describe("skill host warm-up", () => {
  const supervisor = new SkillHostSupervisor({ poolSize: 1, permissionModel: true, hostGraceMs: 3_000 });
  afterAll(async () => {
    await supervisor.stop();
  });

  it("starts the host and the isolates of its skills with no call made", async () => {
    supervisor.load(spec("a@1.0.0"));
    supervisor.load(spec("b@1.0.0"));
    expect(supervisor.pids().filter((pid) => pid !== undefined)).toEqual([]); // nothing forked yet
    await supervisor.warm();
    expect(supervisor.pids().filter((pid) => pid !== undefined)).toHaveLength(1);
    // The host compiles in the background: poll its stats until both isolates are live.
    let live: string[] = [];
    for (let i = 0; i < 100 && live.length < 2; i++) {
      const [stats] = await supervisor.stats();
      live = (stats?.skills ?? []).filter((s) => s.live).map((s) => s.key);
      if (live.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(live.sort()).toEqual(["a@1.0.0", "b@1.0.0"]);
  });
});
