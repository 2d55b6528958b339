import { describe, expect, it } from "vitest";
import { backoffDelayMs, DeafWatchdog, HealthTracker, ReconnectSupervisor } from "../../../../adapters/shared/index.ts";

describe("backoffDelayMs", () => {
  it("grows exponentially up to the cap, with the jittered share random", () => {
    const opts = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 };
    expect(backoffDelayMs(1, opts, () => 0)).toBe(50);
    expect(backoffDelayMs(1, opts, () => 1)).toBe(100);
    expect(backoffDelayMs(3, opts, () => 1)).toBe(400);
    expect(backoffDelayMs(10, opts, () => 1)).toBe(1_000);
    expect(backoffDelayMs(10, opts, () => 0)).toBe(500);
  });
});

describe("HealthTracker", () => {
  it("records inbound and API times and counts reconnects in detail", () => {
    let now = 1_000;
    const health = new HealthTracker("telegram", { now: () => now });
    health.setMode("polling");
    expect(health.snapshot()).toEqual({
      platform: "telegram",
      state: "starting",
      lastInboundAt: null,
      lastApiOkAt: null,
      reconnects: 0,
      detail: "mode polling",
    });
    health.markInbound();
    now = 2_000;
    health.markApiOk();
    health.setState("reconnecting", "socket hang up");
    health.setState("up");
    expect(health.snapshot()).toEqual({
      platform: "telegram",
      state: "up",
      lastInboundAt: 1_000,
      lastApiOkAt: 2_000,
      reconnects: 1,
      detail: "mode polling; 1 reconnect; last error: socket hang up",
    });
  });
});

describe("ReconnectSupervisor", () => {
  it("reconnects after a failed session with backoff and comes back up", async () => {
    const health = new HealthTracker("x");
    let sessions = 0;
    let secondUp!: () => void;
    const upAgain = new Promise<void>((r) => (secondUp = r));
    const supervisor = new ReconnectSupervisor({
      name: "x",
      health,
      backoff: { initialMs: 10, maxMs: 20 },
      runSession: async (signal, markUp) => {
        sessions++;
        markUp();
        if (sessions === 1) throw new Error("dropped");
        secondUp();
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      },
    });
    await supervisor.start();
    await upAgain;
    expect(sessions).toBe(2);
    expect(health.snapshot()).toMatchObject({ state: "up" });
    expect(health.reconnects).toBe(1);
    await supervisor.stop();
    expect(health.state).toBe("down");
  });

  it("rejects start and goes down on a fatal failure", async () => {
    const health = new HealthTracker("x");
    const supervisor = new ReconnectSupervisor({
      name: "x",
      health,
      isFatal: () => true,
      runSession: async () => {
        throw new Error("401 unauthorized");
      },
    });
    await expect(supervisor.start()).rejects.toThrow("401");
    expect(health.snapshot()).toMatchObject({ state: "down", detail: "last error: 401 unauthorized" });
    await supervisor.stop();
  });

  it("restarts a deaf session at once when the watchdog says so", async () => {
    const health = new HealthTracker("x");
    const signals: AbortSignal[] = [];
    let reachedSecond!: () => void;
    const second = new Promise<void>((r) => (reachedSecond = r));
    const supervisor = new ReconnectSupervisor({
      name: "x",
      health,
      runSession: async (signal, markUp) => {
        signals.push(signal);
        markUp();
        if (signals.length === 2) reachedSecond();
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      },
    });
    await supervisor.start();
    let isDeaf = true;
    const watchdog = new DeafWatchdog({
      intervalMs: 60_000,
      check: () => (isDeaf ? "no poll finished in 40 s" : undefined),
      onDeaf: (reason) => {
        isDeaf = false;
        supervisor.restart(reason);
      },
    });
    await expect(watchdog.checkNow()).resolves.toBe("no poll finished in 40 s");
    await second;
    expect(signals[0]!.aborted).toBe(true);
    expect(supervisor.restarts).toBe(1);
    await expect(watchdog.checkNow()).resolves.toBeUndefined();
    watchdog.stop();
    await supervisor.stop();
  });
});
