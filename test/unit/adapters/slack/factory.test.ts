import { describe, expect, it } from "vitest";
import type { Core } from "../../../../bot/index.ts";
import { parseConfig } from "../../../../config/index.ts";
import { createSlackAdapter, SlackAdapter } from "../../../../adapters/slack/index.ts";
import { slackTestCore } from "../../../stand-ins/slack/harness.ts";

function coreWith(slack: Record<string, unknown>): Core {
  return { ...slackTestCore(), config: parseConfig({ adapters: { slack } }) } as Core;
}

describe("createSlackAdapter", () => {
  it("is undefined without a token, or when disabled", () => {
    expect(createSlackAdapter(coreWith({}))).toBeUndefined();
    expect(createSlackAdapter(coreWith({ token: "xoxb-1", signingSecret: "s", enabled: false }))).toBeUndefined();
  });

  it("builds an HTTP-mode adapter with a signing secret, and a Socket Mode one with an app token", () => {
    const http = createSlackAdapter(coreWith({ token: "xoxb-1", signingSecret: "s" }));
    expect(http).toBeInstanceOf(SlackAdapter);
    expect(http!.health()).toMatchObject({
      platform: "slack",
      state: "starting",
      detail: expect.stringContaining("http"),
    });
    const socket = createSlackAdapter(coreWith({ token: "xoxb-1", appToken: "xapp-1" }));
    expect(socket!.health().detail).toContain("socket mode");
  });

  it("refuses a configuration that cannot work, saying what is missing", () => {
    expect(() => createSlackAdapter(coreWith({ token: "xoxb-1" }))).toThrow(/signingSecret/);
    expect(() => createSlackAdapter(coreWith({ token: "xoxb-1", mode: "socket" }))).toThrow(/appToken/);
    expect(() => createSlackAdapter(coreWith({ token: "xoxb-1", mode: "http", appToken: "xapp-1" }))).toThrow(
      expect.objectContaining({ code: "E_CONFIG_INVALID" }),
    );
  });
});
