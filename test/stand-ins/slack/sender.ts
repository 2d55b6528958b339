/**
 * Sends what Slack's servers send to an app over HTTP: signed slash commands (form bodies), Events API
 * callbacks (JSON), interactive payloads, and url_verification. Signing is `v0=` HMAC-SHA256 of
 * `v0:<timestamp>:<raw body>`, exactly as Slack does, with knobs to break it.
 */
import { createHmac, randomUUID } from "node:crypto";

/** How to sign (or mis-sign) one request. */
export interface SignOptions {
  signingSecret: string;
  /** Seconds since the epoch; default now. */
  timestampS?: number;
  /** Sign with this secret instead (a bad signature). */
  wrongSecret?: string;
  /** Send no signature headers at all. */
  unsigned?: boolean;
  /** Adds `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`. */
  retryNum?: number;
  retryReason?: string;
}

/** What the app answered. */
export interface SentResult {
  status: number;
  body: string;
  contentType: string | null;
}

/** The `v0=` signature Slack puts in `X-Slack-Signature`. */
export function slackSignature(secret: string, timestampS: number, rawBody: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestampS}:${rawBody}`).digest("hex")}`;
}

/** POST a raw body to the app, signed per `options`. */
export async function sendSigned(
  url: string,
  { rawBody, contentType }: { rawBody: string; contentType: string },
  options: SignOptions,
): Promise<SentResult> {
  const timestampS = options.timestampS ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = { "content-type": contentType };
  if (options.unsigned !== true) {
    headers["x-slack-request-timestamp"] = String(timestampS);
    headers["x-slack-signature"] = slackSignature(options.wrongSecret ?? options.signingSecret, timestampS, rawBody);
  }
  if (options.retryNum !== undefined) {
    headers["x-slack-retry-num"] = String(options.retryNum);
    headers["x-slack-retry-reason"] = options.retryReason ?? "http_timeout";
  }
  const res = await fetch(url, { method: "POST", headers, body: rawBody });
  return { status: res.status, body: await res.text(), contentType: res.headers.get("content-type") };
}

/** Fields of a slash command payload. */
export interface CommandFields {
  command: string;
  text?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  channel_name?: string;
  team_id?: string;
  response_url?: string;
  trigger_id?: string;
}

/** A slash command payload with Slack's usual fields filled in. */
export function commandPayload(fields: CommandFields): Record<string, string> {
  return {
    token: "legacy-verification-token",
    team_id: fields.team_id ?? "T0000001",
    team_domain: "stand-in",
    channel_id: fields.channel_id ?? "C0000001",
    channel_name: fields.channel_name ?? "general",
    user_id: fields.user_id ?? "U0000001",
    user_name: fields.user_name ?? "alice",
    command: fields.command,
    text: fields.text ?? "",
    api_app_id: "A0000001",
    is_enterprise_install: "false",
    response_url: fields.response_url ?? "",
    trigger_id: fields.trigger_id ?? `trig-${randomUUID()}`,
  };
}

/** POST a signed slash command (form-encoded, as Slack sends it). */
export function sendCommand(url: string, fields: CommandFields, options: SignOptions): Promise<SentResult> {
  const body = new URLSearchParams(commandPayload(fields)).toString();
  return sendSigned(url, { rawBody: body, contentType: "application/x-www-form-urlencoded" }, options);
}

/** An Events API `event_callback` envelope around `event`. */
export function eventCallback(
  event: Record<string, unknown>,
  eventId = `Ev${randomUUID().replaceAll("-", "").slice(0, 10).toUpperCase()}`,
): Record<string, unknown> {
  return {
    token: "legacy-verification-token",
    team_id: "T0000001",
    api_app_id: "A0000001",
    event,
    type: "event_callback",
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      { enterprise_id: null, team_id: "T0000001", user_id: "UBOT0001", is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
  };
}

/** POST a signed Events API callback (JSON). */
export function sendEvent(url: string, body: Record<string, unknown>, options: SignOptions): Promise<SentResult> {
  return sendSigned(url, { rawBody: JSON.stringify(body), contentType: "application/json" }, options);
}

/** POST a signed interactive payload (form field `payload` holding JSON, as Slack sends button clicks). */
export function sendInteraction(
  url: string,
  payload: Record<string, unknown>,
  options: SignOptions,
): Promise<SentResult> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return sendSigned(url, { rawBody: body, contentType: "application/x-www-form-urlencoded" }, options);
}

/** An `app_mention` event in a channel. */
export function appMention(fields: {
  text: string;
  user?: string;
  channel?: string;
  ts?: string;
  threadTs?: string;
}): Record<string, unknown> {
  return {
    type: "app_mention",
    user: fields.user ?? "U0000001",
    text: fields.text,
    ts: fields.ts ?? "1700000100.000100",
    channel: fields.channel ?? "C0000001",
    event_ts: fields.ts ?? "1700000100.000100",
    ...(fields.threadTs === undefined ? {} : { thread_ts: fields.threadTs }),
  };
}

/** A direct message (`message.im`) event. */
export function directMessage(fields: {
  text: string;
  user?: string;
  channel?: string;
  ts?: string;
  threadTs?: string;
}): Record<string, unknown> {
  return {
    type: "message",
    channel_type: "im",
    user: fields.user ?? "U0000001",
    text: fields.text,
    ts: fields.ts ?? "1700000200.000100",
    channel: fields.channel ?? "D0000001",
    event_ts: fields.ts ?? "1700000200.000100",
    ...(fields.threadTs === undefined ? {} : { thread_ts: fields.threadTs }),
  };
}

/** A `reaction_added` or `reaction_removed` event on a message. */
export function reactionEvent(fields: {
  reaction: string;
  added: boolean;
  channel: string;
  ts: string;
  user?: string;
  itemUser?: string;
}): Record<string, unknown> {
  return {
    type: fields.added ? "reaction_added" : "reaction_removed",
    user: fields.user ?? "U0000001",
    reaction: fields.reaction,
    item: { type: "message", channel: fields.channel, ts: fields.ts },
    ...(fields.itemUser === undefined ? {} : { item_user: fields.itemUser }),
    event_ts: `${Math.floor(Date.now() / 1000)}.000100`,
  };
}
