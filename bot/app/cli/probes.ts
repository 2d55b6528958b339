/**
 * `doctor`'s live checks: each configured platform and LLM endpoint is asked who we are (`getMe`, `auth.test`,
 * `apps.connections.open`, `/users/@me`) or what it serves (`/models`, `/api/tags`), and the answer is reported
 * as it came: accepted, refused (with the platform's reason), or unreachable. Plain `fetch`, so no SDK loads.
 */
import type { Config } from "../../../config/index.ts";
import { resolveModels } from "../../../llm/registry.ts";

/** One checked line: ✓, ✗, or • for information. */
export interface ProbeLine {
  ok: boolean | "info";
  text: string;
}

/** How long one endpoint may take to answer, in ms. */
const PROBE_TIMEOUT_MS = 5_000;

type Answer = { status: number; body: unknown } | { error: string };

async function ask(url: string, init: RequestInit = {}): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

const field = (body: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined),
    body,
  );

/** Live checks for every configured platform token. */
export async function platformProbes(config: Config): Promise<ProbeLine[]> {
  const { telegram, discord, slack } = config.adapters;
  const checks: Array<Promise<ProbeLine>> = [];
  if (telegram.token !== undefined) {
    const root = telegram.apiRoot.replace(/\/+$/, "");
    checks.push(
      ask(`${root}/bot${telegram.token}/getMe`).then((a) =>
        "error" in a
          ? { ok: false, text: `telegram: getMe — API at ${root} unreachable (${a.error})` }
          : field(a.body, "ok") === true
            ? {
                ok: true,
                text: `telegram: getMe — token accepted, bot @${String(field(a.body, "result", "username"))}`,
              }
            : {
                ok: false,
                text: `telegram: getMe — refused: ${a.status} ${String(field(a.body, "description") ?? "")}`.trim(),
              },
      ),
    );
  }
  if (discord.token !== undefined) {
    const root = discord.apiRoot.replace(/\/+$/, "");
    checks.push(
      ask(`${root}/v10/users/@me`, { headers: { authorization: `Bot ${discord.token}` } }).then((a) =>
        "error" in a
          ? { ok: false, text: `discord: /users/@me — API at ${root} unreachable (${a.error})` }
          : a.status === 200
            ? { ok: true, text: `discord: /users/@me — token accepted, bot ${String(field(a.body, "username"))}` }
            : {
                ok: false,
                text: `discord: /users/@me — refused: ${a.status} ${String(field(a.body, "message") ?? "")}`,
              },
      ),
    );
  }
  if (slack.token !== undefined) {
    const slackCall = (method: string, token: string, what: string): Promise<ProbeLine> =>
      ask(`${slack.apiUrl}${method}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
      }).then((a) =>
        "error" in a
          ? { ok: false, text: `slack: ${method} — API at ${slack.apiUrl} unreachable (${a.error})` }
          : field(a.body, "ok") === true
            ? { ok: true, text: `slack: ${method} — ${what} accepted` }
            : { ok: false, text: `slack: ${method} — ${what} refused: ${String(field(a.body, "error") ?? a.status)}` },
      );
    checks.push(slackCall("auth.test", slack.token, "bot token"));
    if (slack.appToken !== undefined) checks.push(slackCall("apps.connections.open", slack.appToken, "app token"));
  }
  return Promise.all(checks);
}

/** Live checks for every configured LLM endpoint: reachable, key accepted, models listed. */
export async function llmProbes(config: Config): Promise<ProbeLine[]> {
  const models = resolveModels(config.llm);
  if (models.length === 0) return [{ ok: "info", text: "llm: no model configured" }];
  type Endpoint = { url: string; init: RequestInit; provider: string; wanted: string[] };
  const endpoints = new Map<string, Endpoint>();
  for (const m of models) {
    const isOllama = m.provider === "ollama";
    const base = (isOllama ? m.host : m.baseUrl)?.replace(/\/+$/, "") ?? "https://api.openai.com/v1";
    const key = `${m.provider} ${base}`;
    const entry: Endpoint = endpoints.get(key) ?? {
      url: isOllama ? `${base}/api/tags` : `${base}/models`,
      init: m.apiKey === undefined || m.apiKey === "" ? {} : { headers: { authorization: `Bearer ${m.apiKey}` } },
      provider: m.provider,
      wanted: [],
    };
    entry.wanted.push(m.model);
    endpoints.set(key, entry);
  }
  return Promise.all(
    [...endpoints.values()].map(async (e): Promise<ProbeLine> => {
      const a = await ask(e.url, e.init);
      if ("error" in a) return { ok: false, text: `llm: ${e.url} unreachable (${a.error})` };
      if (a.status === 401 || a.status === 403)
        return { ok: false, text: `llm: ${e.url} refused the key (${a.status})` };
      if (a.status !== 200) return { ok: false, text: `llm: ${e.url} answered ${a.status}` };
      const listed = (field(a.body, e.provider === "ollama" ? "models" : "data") ?? []) as Array<
        Record<string, unknown>
      >;
      const names = Array.isArray(listed) ? listed.map((m) => String(m.id ?? m.name ?? m.model ?? "")) : [];
      const missing = e.wanted.filter((w) => !names.some((n) => n === w || n === `${w}:latest`));
      return missing.length === 0
        ? { ok: true, text: `llm: ${e.url} — key accepted, ${names.length} models listed` }
        : {
            ok: false,
            text: `llm: ${e.url} — key accepted, ${names.length} models listed, but not ${missing.join(", ")}`,
          };
    }),
  );
}
