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
