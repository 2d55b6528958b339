/**
 * Access: your sessions and API tokens (everyone's for a bot owner), revoking any of them, and creating a token
 * with the scopes it needs. A new token is shown once, here; only its hash is kept.
 */
import { useState } from "preact/hooks";
import { api, type Principal, query } from "../api.ts";
import { formatTime } from "../format.ts";
import { messageOf, useLoad } from "../hooks.ts";

interface Credential {
  id: string;
  kind: "session" | "token";
  userKey: string;
  displayName: string;
  name: string | null;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  current: boolean;
}

const SCOPES: { scope: string; label: string }[] = [
  { scope: "read", label: "read (every GET)" },
  { scope: "chats", label: "chats (policies)" },
  { scope: "skills", label: "skills" },
  { scope: "schedules", label: "schedules" },
];

export function AccessPage(props: { principal: Principal }) {
  const [isAll, setAll] = useState(false);
  const list = useLoad(
    () => api<{ credentials: Credential[] }>("GET", `/api/credentials${query({ all: isAll ? "true" : undefined })}`),
    [isAll],
  );
  const [status, setStatus] = useState<string | undefined>(undefined);
  const revoke = async (c: Credential) => {
    try {
      await api("DELETE", `/api/credentials/${encodeURIComponent(c.id)}`);
      setStatus(`Revoked the ${c.kind} ${c.name ?? c.id}.`);
      list.reload();
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  const live = (list.data?.credentials ?? []).filter((c) => c.revokedAt === null);
  return (
    <section>
      <h1>Access</h1>
      <NewToken onCreated={list.reload} />
      <section aria-labelledby="creds-h">
        <h2 id="creds-h">Sessions and tokens</h2>
        {props.principal.isOwner ? (
          <p>
            <label>
              <input type="checkbox" checked={isAll} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} />{" "}
              Everyone's
            </label>
          </p>
        ) : null}
        {list.error === undefined ? null : <p role="alert">{list.error}</p>}
        {list.data !== undefined && live.length === 0 ? <p class="empty">None.</p> : null}
        {live.length === 0 ? null : (
          <div class="scroll">
            <table>
              <caption class="visually-hidden">Live sessions and tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Whose</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {live.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      {c.kind === "token" ? `token ${c.name ?? ""}` : "session"}
                      {c.current ? " (this one)" : ""}
                    </th>
                    <td>{c.userKey}</td>
                    <td>{c.scopes.join(", ")}</td>
                    <td>{formatTime(c.lastUsedAt)}</td>
                    <td>{c.expiresAt === null ? "never" : formatTime(c.expiresAt)}</td>
                    <td>
                      <button type="button" onClick={() => void revoke(c)}>
                        Revoke <span class="visually-hidden">{`${c.kind} ${c.name ?? c.id}`}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p role="status" aria-live="polite">
          {status}
        </p>
      </section>
    </section>
  );
}

function NewToken(props: { onCreated(): void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["read"]);
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<{ token: string }>("POST", "/api/tokens", {
        name: name.trim(),
        scopes,
        ...(days.trim() === "" ? {} : { expiresInDays: Number(days) }),
      });
      setCreated(r.token);
      setName("");
      props.onCreated();
    } catch (failure) {
      setError(messageOf(failure));
    }
  };
  return (
    <section aria-labelledby="token-h" class="card">
      <h2 id="token-h">New API token</h2>
      <form class="stack" onSubmit={create}>
        <label>
          Name{" "}
          <input required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s.scope} class="perm">
              <input
                type="checkbox"
                checked={scopes.includes(s.scope)}
                onChange={(e) =>
                  setScopes((old) =>
                    (e.target as HTMLInputElement).checked ? [...old, s.scope] : old.filter((x) => x !== s.scope),
                  )
                }
              />{" "}
              {s.label}
            </label>
          ))}
        </fieldset>
        <label>
          Expires after (days, empty for never){" "}
          <input inputMode="numeric" value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        </label>
        <div>
          <button type="submit">Create token</button>
        </div>
      </form>
      {error === undefined ? null : <p role="alert">{error}</p>}
      {created === undefined ? null : (
        <div role="status">
          <p>Your new token, shown this once (only its hash is kept):</p>
          <p>
            <code class="secret">{created}</code>
          </p>
        </div>
      )}
    </section>
  );
}
