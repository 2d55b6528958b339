import { describe, expect, it } from "vitest";
import { signSlackRequest, verifySlackSignature } from "../../../../adapters/slack/verify.ts";
import { slackSignature } from "../../../stand-ins/slack/sender.ts";

const secret = "8f742231b10e8888abcd99yyyzzz85a5";
const body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070";
const nowS = 1_531_420_618;

describe("Slack request signatures", () => {
  it("matches Slack's v0 HMAC-SHA256 scheme", () => {
    expect(signSlackRequest(secret, nowS, body)).toBe(slackSignature(secret, nowS, body));
    expect(signSlackRequest(secret, nowS, body)).toMatch(/^v0=[0-9a-f]{64}$/);
  });

  it("accepts a correct signature inside the replay window", () => {
    const headers = {
      "x-slack-signature": signSlackRequest(secret, nowS, body),
      "x-slack-request-timestamp": String(nowS),
    };
    expect(
      verifySlackSignature({ signingSecret: secret, headers, rawBody: Buffer.from(body), nowMs: (nowS + 299) * 1000 }),
    ).toEqual({ ok: true });
  });

  it("refuses a wrong secret, a changed body, a stale or future timestamp, and missing headers", () => {
    const good = {
      "x-slack-signature": signSlackRequest(secret, nowS, body),
      "x-slack-request-timestamp": String(nowS),
    };
    const at = nowS * 1000;
    expect(verifySlackSignature({ signingSecret: "other", headers: good, rawBody: body, nowMs: at })).toEqual({
      ok: false,
      reason: "bad signature",
    });
    expect(verifySlackSignature({ signingSecret: secret, headers: good, rawBody: `${body}&x=1`, nowMs: at })).toEqual({
      ok: false,
      reason: "bad signature",
    });
    expect(
      verifySlackSignature({ signingSecret: secret, headers: good, rawBody: body, nowMs: (nowS + 301) * 1000 }),
    ).toEqual({ ok: false, reason: "stale timestamp" });
    expect(
      verifySlackSignature({ signingSecret: secret, headers: good, rawBody: body, nowMs: (nowS - 301) * 1000 }),
    ).toEqual({ ok: false, reason: "stale timestamp" });
    expect(
      verifySlackSignature({
        signingSecret: secret,
        headers: { "x-slack-request-timestamp": String(nowS) },
        rawBody: body,
        nowMs: at,
      }),
    ).toEqual({ ok: false, reason: "missing headers" });
    expect(
      verifySlackSignature({
        signingSecret: secret,
        headers: { ...good, "x-slack-request-timestamp": "soon" },
        rawBody: body,
        nowMs: at,
      }),
    ).toEqual({ ok: false, reason: "missing headers" });
    expect(
      verifySlackSignature({
        signingSecret: secret,
        headers: { ...good, "x-slack-signature": "v0=short" },
        rawBody: body,
        nowMs: at,
      }),
    ).toEqual({ ok: false, reason: "bad signature" });
  });
});
