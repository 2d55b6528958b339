import { describe, expect, it } from "vitest";
import { parseSlackBody } from "../../../../adapters/slack/http-receiver.ts";

const req = (type: string, body: string) => ({ headers: { "content-type": type }, rawBody: Buffer.from(body) });

describe("Slack request bodies", () => {
  it("reads JSON events, form slash commands and form-wrapped interactive payloads", () => {
    expect(parseSlackBody(req("application/json", '{"type":"event_callback","event_id":"Ev1"}'))).toEqual({
      type: "event_callback",
      event_id: "Ev1",
    });
    expect(parseSlackBody(req("application/x-www-form-urlencoded", "command=%2Fhelp&text=a+b"))).toEqual({
      command: "/help",
      text: "a b",
    });
    expect(
      parseSlackBody(
        req(
          "application/x-www-form-urlencoded; charset=utf-8",
          `payload=${encodeURIComponent('{"type":"block_actions"}')}`,
        ),
      ),
    ).toEqual({ type: "block_actions" });
  });

  it("returns undefined for anything unreadable (the route answers 400)", () => {
    expect(parseSlackBody(req("application/json", "{nope"))).toBeUndefined();
    expect(parseSlackBody(req("application/json", "[1,2]"))).toBeUndefined();
    expect(parseSlackBody(req("application/json", "null"))).toBeUndefined();
    expect(parseSlackBody(req("application/x-www-form-urlencoded", "payload=%7Bbad"))).toBeUndefined();
    expect(parseSlackBody(req("text/plain", "hello"))).toBeUndefined();
    expect(parseSlackBody({ headers: {}, rawBody: Buffer.from("{}") })).toBeUndefined();
  });
});
