/**
 * The admin API as the console calls it: same-origin JSON with the session cookie, and the session's CSRF token
 * on every state-changing call. The token lives in memory only (a reload asks `/api/auth/me` again).
 */

/** Who is signed in (`GET /api/auth/me`). */
export interface Principal {
  userKey: string;
  displayName: string;
  via: "web" | "api";
  scopes: string[];
  isOwner: boolean;
}

/** An error answer of the API: `{ error, message }` with its status. */
export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrfToken: string | undefined;

/** Remember the session's CSRF token (from sign-in or `/api/auth/me`). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Call the API; throws `ApiFailure` on an error answer. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken !== undefined) headers["x-csrf-token"] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let data: unknown;
  try {
    data = text === "" ? undefined : JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; message?: string };
    throw new ApiFailure(res.status, e.error ?? `HTTP_${res.status}`, e.message ?? (text || res.statusText));
  }
  return data as T;
}

/** A query string from the defined values of an object. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/** One server-sent event of a streamed answer. */
export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Send a change whose answer streams server-sent events (an install's progress); `onEvent` gets each as it comes. */
export async function streamEvents(path: string, body: unknown, onEvent: (e: StreamEvent) => void): Promise<void> {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      accept: "text/event-stream",
      "content-type": "application/json",
      ...(csrfToken === undefined ? {} : { "x-csrf-token": csrfToken }),
    },
    body: JSON.stringify(body),
  });
  if (!res.ok || res.body === null) {
    const e = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new ApiFailure(res.status, e.error ?? `HTTP_${res.status}`, e.message ?? res.statusText);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value !== undefined) buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) onEvent({ event, data: JSON.parse(data) as Record<string, unknown> });
      end = buffer.indexOf("\n\n");
    }
    if (done) return;
  }
}
