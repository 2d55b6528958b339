/** A console session over HTTP, as the browser holds one: signed in with a single-use link, then API calls. */
import type { TestBot } from "./app.ts";

/** The session cookie and its CSRF token. */
export interface Session {
  cookie: string;
  csrf: string;
}

/** Sign `userKey` in through `POST /api/auth/sign-in` with a fresh single-use link. */
export async function signIn(bot: TestBot, base: string, userKey: string): Promise<Session> {
  const { url } = await bot.app.admin.signInLink({ userKey, displayName: userKey });
  const res = await fetch(`${base}/api/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: new URL(url).hash.slice(6) }),
  });
  return {
    cookie: res.headers.get("set-cookie")!.split(";")[0]!,
    csrf: ((await res.json()) as { csrfToken: string }).csrfToken,
  };
}

/** Call the admin API at `base` as `session`. `request` is `"METHOD /path"`; a body is sent as JSON. */
export function callAs(
  { base, session }: { base: string; session: Session },
  request: string,
  body?: unknown,
): Promise<Response> {
  const [method, path] = request.split(" ") as [string, string];
  return fetch(`${base}${path}`, {
    method,
    headers: {
      cookie: session.cookie,
      "x-csrf-token": session.csrf,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
