/**
 * Skills: search the marketplace, install with the consent screen (the permissions the package asks for, and
 * what changed since the last approval), follow the install's progress; per chat, enable a skill granting what it
 * asks for, or disable it. Installing is for bot owners; enabling for whoever `/skills enable` allows in the chat.
 */
import { useState } from "preact/hooks";
import { api, type Principal, query, type StreamEvent, streamEvents } from "../api.ts";
import { messageOf, useLoad } from "../hooks.ts";

interface Hit {
  name: string;
  version: string;
  description: string;
}
interface Plan {
  name: string;
  version: string;
  fromVersion: string | null;
  kind: string;
  description: string;
  permissions: string[];
  diff: { added: string[]; removed: string[]; kept: string[] };
  signatureVerified: boolean;
}
interface ChatSkill {
  skill: string;
  packageName: string;
  version: string;
  description: string;
  state: string;
  permissions: string[];
  pendingPermissions: string[];
}

export function SkillsPage(props: { principal: Principal }) {
  const [installedRound, setInstalledRound] = useState(0);
  return (
    <section>
      <h1>Skills</h1>
      {props.principal.isOwner ? <Marketplace onInstalled={() => setInstalledRound((r) => r + 1)} /> : null}
      <ChatSkills round={installedRound} />
    </section>
  );
}

function Marketplace(props: { onInstalled(): void }) {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<Hit[] | undefined>(undefined);
  const [plan, setPlan] = useState<Plan | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [progress, setProgress] = useState<string[]>([]);

  const search = async (e: Event) => {
    e.preventDefault();
    setStatus("Searching…");
    try {
      setHits((await api<{ hits: Hit[] }>("GET", `/api/skills/search${query({ q })}`)).hits);
      setStatus(undefined);
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  const review = async (name: string) => {
    setStatus("Asking the registry…");
    setProgress([]);
    try {
      setPlan((await api<{ plan: Plan }>("POST", "/api/skills/plan", { spec: name, action: "install" })).plan);
      setStatus(undefined);
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  const install = async (shown: Plan) => {
    setStatus("Installing…");
    const lines: string[] = [];
    const onEvent = (e: StreamEvent) => {
      const d = e.data;
      if (e.event === "progress")
        lines.push(
          d.kind === "download"
            ? `downloading ${String(d.name)}@${String(d.version)}: ${String(d.receivedBytes)} bytes`
            : `${String(d.step)}`,
        );
      else if (e.event === "done") lines.push(`${String(d.status)}: ${String(d.name)}@${String(d.version)}`);
      else if (e.event === "error") lines.push(`failed: ${String(d.message)}`);
      setProgress([...lines]);
    };
    try {
      await streamEvents(
        "/api/skills/install",
        { spec: `${shown.name}@${shown.version}`, version: shown.version, permissions: shown.permissions },
        onEvent,
      );
      setStatus(lines.at(-1)?.startsWith("installed") === true ? "Installed." : lines.at(-1));
      setPlan(undefined);
      props.onInstalled();
    } catch (error) {
      setStatus(messageOf(error));
    }
  };

  return (
    <section aria-labelledby="market-h">
      <h2 id="market-h">Marketplace</h2>
      <form class="card row" onSubmit={search}>
        <label>
          Search <input name="q" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      {hits === undefined ? null : hits.length === 0 ? (
        <p class="empty">No skills found.</p>
      ) : (
        <ul class="hits">
          {hits.map((h) => (
            <li key={h.name}>
              <strong>{h.name}</strong> <span class="muted">{h.version}</span> {h.description}{" "}
              <button type="button" onClick={() => void review(h.name)}>
                Review install <span class="visually-hidden">of {h.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {plan === undefined ? null : (
        <div class="card consent" role="dialog" aria-labelledby="consent-h">
          <h3 id="consent-h">
            {plan.kind} {plan.name}@{plan.version}
            {plan.fromVersion === null ? "" : ` (from ${plan.fromVersion})`}
          </h3>
          <p>{plan.description}</p>
          <p>
            Registry signature: <strong>{plan.signatureVerified ? "verified" : "not verified"}</strong>
          </p>
          <p>It asks for:</p>
          {plan.permissions.length === 0 ? <p class="empty">No permissions.</p> : null}
          <ul class="permissions">
            {plan.permissions.map((p) => (
              <li key={p}>
                <code>{p}</code>
                {plan.diff.added.includes(p) ? <strong> (new)</strong> : null}
              </li>
            ))}
          </ul>
          {plan.diff.removed.length === 0 ? null : <p>No longer asks for: {plan.diff.removed.join(", ")}</p>}
          <p>
            <button type="button" onClick={() => void install(plan)}>
              Approve and install
            </button>{" "}
            <button type="button" class="link" onClick={() => setPlan(undefined)}>
              Cancel
            </button>
          </p>
        </div>
      )}
      <p role="status" aria-live="polite">
        {status}
      </p>
      {progress.length === 0 ? null : (
        <ol class="progress" aria-label="Install progress">
          {progress.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ol>
      )}
    </section>
  );
}

function ChatSkills(props: { round: number }) {
  const chats = useLoad(() => api<{ chats: { chatKey: string; title: string | null }[] }>("GET", "/api/chats"), []);
  const [chosen, setChosen] = useState("");
  const chatKey = chosen || chats.data?.chats[0]?.chatKey || "";
  const path = `/api/chats/${encodeURIComponent(chatKey)}/skills`;
  const list = useLoad(
    () => (chatKey === "" ? Promise.resolve({ skills: [] }) : api<{ skills: ChatSkill[] }>("GET", path)),
    [chatKey, props.round],
  );
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [settingsOf, setSettingsOf] = useState<string | undefined>(undefined);
  const change = async (s: ChatSkill, enable: boolean) => {
    try {
      const target = `${path}/${encodeURIComponent(s.skill)}/${enable ? "enable" : "disable"}`;
      if (enable) await api("POST", target, { version: s.version, permissions: s.permissions });
      else await api("POST", target);
      setStatus(`${s.skill} ${enable ? "enabled" : "disabled"} in ${chatKey}.`);
      list.reload();
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  return (
    <section aria-labelledby="chat-skills-h">
      <h2 id="chat-skills-h">In a chat</h2>
      <p>
        <label for="skills-chat">Chat</label>{" "}
        <select id="skills-chat" value={chatKey} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
          {(chats.data?.chats ?? []).map((c) => (
            <option key={c.chatKey} value={c.chatKey}>
              {c.title === null ? c.chatKey : `${c.title} (${c.chatKey})`}
            </option>
          ))}
        </select>
      </p>
      {list.error === undefined ? null : <p role="alert">{list.error}</p>}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Skill</th>
              <th scope="col">State</th>
              <th scope="col">Asks for</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.skills ?? []).map((s) => (
              <tr key={s.skill}>
                <th scope="row">
                  {s.skill} <span class="muted">{`${s.packageName}@${s.version}`}</span>
                </th>
                <td>{s.state}</td>
                <td>
                  {s.permissions.map((p) => (
                    <code key={p} class="perm">
                      {p}
                      {s.pendingPermissions.includes(p) ? " (new)" : ""}
                    </code>
                  ))}
                </td>
                <td class="actions">
                  <button type="button" onClick={() => setSettingsOf(settingsOf === s.skill ? undefined : s.skill)}>
                    Settings <span class="visually-hidden">of {s.skill}</span>
                  </button>{" "}
                  {s.state === "enabled" ? (
                    <button type="button" onClick={() => void change(s, false)}>
                      Disable <span class="visually-hidden">{s.skill}</span>
                    </button>
                  ) : (
                    <button type="button" onClick={() => void change(s, true)}>
                      Enable <span class="visually-hidden">{s.skill}</span>, granting what it asks for
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p role="status" aria-live="polite">
        {status}
      </p>
      {settingsOf === undefined ? null : (
        <SkillSettings key={`${chatKey}/${settingsOf}`} path={`${path}/${encodeURIComponent(settingsOf)}/settings`} />
      )}
    </section>
  );
}

/** A skill's settings in a chat: values as stored (secrets masked: they are write-only), and a form to set one. */
function SkillSettings(props: { path: string }) {
  const settings = useLoad(() => api<{ settings: Record<string, unknown> }>("GET", props.path), [props.path]);
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [status, setStatus] = useState<string | undefined>(undefined);
  const save = async (e: Event) => {
    e.preventDefault();
    // Numbers, booleans and JSON go as such; anything else as text.
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
    try {
      await api("PUT", `${props.path}/${encodeURIComponent(key.trim())}`, { value: parsed });
      setStatus(`Set ${key.trim()}.`);
      setValue("");
      settings.reload();
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  const entries = Object.entries(settings.data?.settings ?? {});
  return (
    <section class="card" aria-labelledby="settings-h">
      <h3 id="settings-h">Settings</h3>
      {settings.error === undefined ? null : <p role="alert">{settings.error}</p>}
      {settings.data !== undefined && entries.length === 0 ? <p class="empty">No settings are set.</p> : null}
      {entries.length === 0 ? null : (
        <table>
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">
                  <code>{k}</code>
                </th>
                <td>
                  <code>{JSON.stringify(v)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="row" onSubmit={save}>
        <label>
          Setting <input required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Value{" "}
          <input value={value} autocomplete="off" onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Set</button>
        <output aria-live="polite">{status}</output>
      </form>
    </section>
  );
}
