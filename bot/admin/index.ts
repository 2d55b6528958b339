/**
 * The admin API and console sign-in, mounted on the shared listener by the composition root. Modules add their
 * own routes (`http.api`) checked by the same `AdminAccess`.
 */
import type { ApiAccess, Core } from "../core.ts";
import type { MessageCounts } from "../message-counts.ts";
import type { HttpAuthenticator, HttpListener } from "../http/listener.ts";
import { SESSION_COOKIE } from "./session-cookie.ts";
import { ConsoleCredentials, type Identity } from "./credentials.ts";

export { AdminAccess } from "./access.ts";
export { ConsoleCredentials, SIGN_IN_TTL_MS, type CredentialInfo, type Identity } from "./credentials.ts";
export { SESSION_COOKIE } from "./session-cookie.ts";

/** What the console needs from the core. */
export type AdminDeps = Pick<
  Core,
  "config" | "store" | "permissions" | "commands" | "adapters" | "clock" | "audit" | "apiAccess"
>;

/** The admin side of a bot: credentials, access checks, and sign-in links. */
export interface Admin {
  readonly credentials: ConsoleCredentials;
  readonly access: ApiAccess;
  /** A single-use sign-in link for this person, valid 10 minutes. */
  signInLink(identity: Identity): Promise<{ url: string; expiresAt: number }>;
}

/** Build the admin side (nothing is mounted). */
export function createAdmin(core: AdminDeps, baseUrl: () => string): Admin {
  const credentials = new ConsoleCredentials({
    sql: core.store.sql,
    clock: core.clock,
    sessionTtlMs: core.config.http.sessionTtlMs,
  });
  return {
    credentials,
    access: core.apiAccess,
    async signInLink(identity) {
      const { code, expiresAt } = await credentials.issueSignIn(identity);
      return { url: `${baseUrl().replace(/\/$/, "")}/console/sign-in#code=${code}`, expiresAt };
    },
  };
}

/** Mount sign-in, the admin routes and the authenticator on the listener (the routes' code loads here). */
export async function mountAdmin(
  core: AdminDeps,
  { admin, http, messageCounts }: { admin: Admin; http: HttpListener; messageCounts: MessageCounts },
): Promise<void> {
  const [{ authRoutes }, { chatRoutes }] = await Promise.all([import("./auth-routes.ts"), import("./chat-routes.ts")]);
  const authenticator: HttpAuthenticator = {
    cookieName: SESSION_COOKIE,
    async authenticate({ bearer, sessionCookie }) {
      if (bearer !== undefined) {
        const principal = await admin.credentials.token(bearer);
        return principal === undefined ? undefined : { principal };
      }
      return sessionCookie === undefined ? undefined : admin.credentials.session(sessionCookie);
    },
  };
  http.setAuthenticator(authenticator);
  const routes = [
    ...authRoutes({
      credentials: admin.credentials,
      access: admin.access,
      sessionTtlMs: core.config.http.sessionTtlMs,
      signInAttemptsPerMinute: core.config.http.signInAttemptsPerMinute,
      audit: (entry) => core.audit({ ...entry, chatKey: "*" }),
    }),
    ...chatRoutes(core, admin.access, messageCounts),
  ];
  for (const route of routes) http.api(route);
}
