/**
 * Attachments on inbound messages, read on demand from the platform's own file host. The URL an attachment names
 * comes from a payload (hostile data), so `fetch` first checks it points at one of the hosts the adapter allows
 * (the platform's file servers, or the API root it was configured with) over the expected scheme, refuses a
 * redirect, and counts the bytes as they stream in: past `maxBytes` it stops and rejects with `E_FILE_TOO_LARGE`.
 */
import { SwitchboardError, type Attachment } from "../../bot/index.ts";
import { formatBytes } from "./files.ts";

/** Where an attachment is and how to read it. */
export interface RemoteAttachmentSource {
  name: string;
  mimeType: string;
  size?: number | undefined;
  /** Resolves the download URL (a Telegram `getFile` call) or gives it as it came in the payload. */
  url: string | (() => Promise<string>);
  /** Origins (`https://files.slack.com`) the URL may point at; anything else is refused. */
  allowedOrigins: readonly string[];
  /** Headers sent with the download (Slack's bot token), only ever to an allowed origin. */
  headers?: Record<string, string>;
  /** Longest wait for the whole download, in ms. Default 30 s. */
  timeoutMs?: number;
}

/** An `Attachment` whose `fetch` reads from an allowed origin only, within `maxBytes`. */
export function remoteAttachment(source: RemoteAttachmentSource): Attachment {
  const attachment: Attachment = {
    name: source.name,
    mimeType: source.mimeType,
    fetch: (options) => fetchAttachment(source, options),
  };
  if (source.size !== undefined) attachment.size = source.size;
  return attachment;
}

function tooLarge(name: string, maxBytes: number): SwitchboardError {
  return new SwitchboardError("E_FILE_TOO_LARGE", `attachment ${name} is over ${maxBytes} bytes`, {
    chatMessage: `The file ${name} is larger than ${formatBytes(maxBytes)}, the most the bot reads.`,
  });
}

/** The URL, when it points at an allowed origin; throws `E_BAD_ARGS` otherwise. */
export function checkedAttachmentUrl(raw: string, allowedOrigins: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SwitchboardError("E_BAD_ARGS", "attachment URL is not a URL", {
      chatMessage: "That file cannot be read.",
    });
  }
  if (url.username !== "" || url.password !== "" || !allowedOrigins.includes(url.origin)) {
    throw new SwitchboardError("E_BAD_ARGS", `attachment URL on a foreign host: ${url.origin}`, {
      chatMessage: "That file is not on the platform's own file host, so it is not read.",
    });
  }
  return url;
}

async function fetchAttachment(
  source: RemoteAttachmentSource,
  { maxBytes, signal }: { maxBytes: number; signal?: AbortSignal },
): Promise<Uint8Array> {
  if (source.size !== undefined && source.size > maxBytes) throw tooLarge(source.name, maxBytes);
  const raw = typeof source.url === "string" ? source.url : await source.url();
  const url = checkedAttachmentUrl(raw, source.allowedOrigins);
  const timeout = AbortSignal.timeout(source.timeoutMs ?? 30_000);
  const res = await fetch(url, {
    headers: source.headers ?? {},
    redirect: "error",
    signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
  });
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new SwitchboardError("E_ADAPTER", `attachment download answered ${res.status}`, {
      chatMessage: "That file could not be read from the platform.",
    });
  }
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body.cancel();
    throw tooLarge(source.name, maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(source.name, maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
