import { describe, expect, it } from "vitest";
import { HookRates } from "../../../hooks/intake.ts";
import { deliveryIdOf, hmacHex, signTimestamped, verifyRequest } from "../../../hooks/verify.ts";

const SECRET = "s3cret";
const BODY = Buffer.from('{"a":1}');
const NOW = 1_800_000_000_000;
const base = { secret: SECRET, body: BODY, nowMs: NOW, replayWindowMs: 300_000 };

describe("hook verification", () => {
  it("accepts GitHub's signature and refuses a wrong or missing one", () => {
    const headers = { "x-hub-signature-256": hmacHex(SECRET, BODY) };
    expect(verifyRequest({ ...base, template: "github", headers })).toBeUndefined();
    expect(verifyRequest({ ...base, template: "github", headers: { "x-hub-signature-256": hmacHex("x", BODY) } })).toBe(
      "bad-signature",
    );
    expect(verifyRequest({ ...base, template: "github", headers: { authorization: `Bearer ${SECRET}` } })).toBe(
      "no-credentials",
    );
  });

  it("accepts a timestamped signature inside the window and refuses one just outside it", () => {
    const body = BODY.toString();
    const inside = signTimestamped(SECRET, body, NOW - 299_000);
    expect(verifyRequest({ ...base, template: "generic", headers: inside })).toBeUndefined();
    const outside = signTimestamped(SECRET, body, NOW - 301_000);
    expect(verifyRequest({ ...base, template: "generic", headers: outside })).toBe("stale-timestamp");
    const future = signTimestamped(SECRET, body, NOW + 301_000);
    expect(verifyRequest({ ...base, template: "alertmanager", headers: future })).toBe("stale-timestamp");
    // The signature covers the timestamp: moving it forward breaks the signature.
    const moved = { ...inside, "x-switchboard-timestamp": String(Math.floor(NOW / 1000)) };
    expect(verifyRequest({ ...base, template: "generic", headers: moved })).toBe("bad-signature");
  });

  it("accepts the bearer secret and refuses anything else", () => {
    expect(
      verifyRequest({ ...base, template: "grafana", headers: { authorization: `Bearer ${SECRET}` } }),
    ).toBeUndefined();
    expect(verifyRequest({ ...base, template: "grafana", headers: { authorization: `Bearer ${SECRET}x` } })).toBe(
      "bad-token",
    );
    expect(verifyRequest({ ...base, template: "grafana", headers: { authorization: `Basic ${SECRET}` } })).toBe(
      "no-credentials",
    );
    expect(verifyRequest({ ...base, template: "grafana", headers: {} })).toBe("no-credentials");
  });

  it("names deliveries by GitHub's id, an idempotency key, Alertmanager's group and times, or the body", () => {
    const gh = deliveryIdOf({ template: "github", headers: { "x-github-delivery": "abc" }, body: BODY, payload: {} });
    expect(gh).toBe("gh:abc");
    expect(deliveryIdOf({ template: "generic", headers: { "idempotency-key": "k1" }, body: BODY, payload: {} })).toBe(
      "id:k1",
    );
    const alert = (endsAt: string) => ({
      groupKey: "g",
      status: "firing",
      alerts: [{ fingerprint: "f", status: "firing", startsAt: "t0", endsAt }],
    });
    const a1 = deliveryIdOf({ template: "alertmanager", headers: {}, body: BODY, payload: alert("t1") });
    const a2 = deliveryIdOf({
      template: "alertmanager",
      headers: {},
      body: Buffer.from("other"),
      payload: alert("t1"),
    });
    const a3 = deliveryIdOf({ template: "alertmanager", headers: {}, body: BODY, payload: alert("t2") });
    expect(a1).toBe(a2);
    expect(a1).not.toBe(a3);
    expect(deliveryIdOf({ template: "generic", headers: {}, body: BODY, payload: {} })).toMatch(/^body:/);
  });
});

describe("per-hook rates", () => {
  it("refuses past the limit with the seconds to the next minute, and starts again then", () => {
    const rates = new HookRates(2);
    const t = 60_000 * 1000 + 15_000;
    expect(rates.take("h", t)).toBeUndefined();
    expect(rates.take("h", t)).toBeUndefined();
    expect(rates.take("h", t)).toBe(45);
    expect(rates.take("other", t)).toBeUndefined();
    expect(rates.take("h", t + 45_000)).toBeUndefined();
  });

  it("stays bounded however many hooks are seen", () => {
    const rates = new HookRates(1);
    for (let i = 0; i < 25_000; i++) rates.take(`h${i}`, i * 10);
    expect(rates.size).toBeLessThanOrEqual(10_000);
    expect(rates.take("h24999", 249_990)).toBe(60 - 9);
  });
});
