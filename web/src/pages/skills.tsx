/**
 * Skills: search the marketplace, install with the consent screen (the permissions the package asks for, and
 * what changed since the last approval), follow the install's progress; per chat, enable a skill granting what it
 * asks for, or disable it; update an installed skill through the same consent screen, roll it back, or uninstall
 * it. Installing and its kin are for bot owners; enabling for whoever `/skills enable` allows in the chat.
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
  /** Which call carries it out: an update within the pinned range, or an install of this exact version. */
  via?: "install" | "update";
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

interface Installed {
  name: string;
  skill: string;
  version: string;
  permissions: string[];
  status: string;
  reason?: string;
}

function Marketplace(props: { onInstalled(): void }) {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<Hit[] | undefined>(undefined);
  const [plan, setPlan] = useState<Plan | undefined>(undefined);
  const [installedRound, setInstalledRound] = useState(0);
  const changed = () => {
    setInstalledRound((r) => r + 1);
    props.onInstalled();
  };
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
  const review = async (name: string, action: "install" | "update" = "install") => {
    setStatus("Asking the registry…");
    setProgress([]);
    const ask = (spec: string, a: "install" | "update") =>
      api<{ plan: Plan; unchanged: boolean }>("POST", "/api/skills/plan", { spec, action: a });
    try {
      let planned = await ask(name, action);
      let via = action;
      // Nothing newer within the pinned range: the newest release, installed over it, is the update to offer.
      if (action === "update" && planned.unchanged) {
        const latest = await ask(name, "install");
        if (latest.plan.kind === "update") [planned, via] = [latest, "install"];
      }
      if (planned.unchanged || (action === "update" && planned.plan.kind !== "update")) {
        setPlan(undefined);
        setStatus(`${name} is already at its newest version, ${planned.plan.version}.`);
        return;
      }
      setPlan({ ...planned.plan, via });
      setStatus(undefined);
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  const install = async (shown: Plan) => {
    const isUpdate = shown.kind === "update";
    setStatus(isUpdate ? "Updating…" : "Installing…");
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
      const consent = { version: shown.version, permissions: shown.permissions };
      await (shown.via === "update"
        ? streamEvents("/api/skills/update", { name: shown.name, ...consent }, onEvent)
        : streamEvents("/api/skills/install", { spec: `${shown.name}@${shown.version}`, ...consent }, onEvent));
      const ok = lines.at(-1)?.startsWith("installed") === true;
      setStatus(ok ? (isUpdate ? `Updated to ${shown.version}.` : "Installed.") : lines.at(-1));
      setPlan(undefined);
      changed();
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
              {plan.kind === "update" ? "Approve and update" : "Approve and install"}
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
      <InstalledSkills
        round={installedRound}
        onReviewUpdate={(name) => void review(name, "update")}
        onChanged={changed}
        onStatus={setStatus}
      />
    </section>
  );
}

/** Installed skills (owners): review an update through the consent screen, roll back, or uninstall. */
function InstalledSkills(props: {
  round: number;
  onReviewUpdate(name: string): void;
  onChanged(): void;
  onStatus(status: string): void;
}) {
  const installed = useLoad(() => api<{ skills: Installed[] }>("GET", "/api/skills/installed"), [props.round]);
  const [removing, setRemoving] = useState<string | undefined>(undefined);
  const [purge, setPurge] = useState(false);
  const rollback = async (s: Installed) => {
    try {
      const r = await api<{ name: string; from: string; to: string }>("POST", "/api/skills/rollback", { name: s.name });
      props.onStatus(`${r.name} rolled back from ${r.from} to ${r.to}.`);
      installed.reload();
      props.onChanged();
    } catch (error) {
      props.onStatus(messageOf(error));
    }
  };
  const uninstall = async (name: string) => {
    try {
      const r = await api<{ name: string; version: string; purged: number | null }>("POST", "/api/skills/uninstall", {
        name,
        purgeData: purge,
      });
      props.onStatus(
        `${r.name}@${r.version} uninstalled${r.purged === null ? "" : `, ${r.purged} stored values deleted`}.`,
      );
      setRemoving(undefined);
      setPurge(false);
      installed.reload();
      props.onChanged();
    } catch (error) {
      props.onStatus(messageOf(error));
    }
  };
  return (
    <section aria-labelledby="installed-h">
      <h3 id="installed-h">Installed</h3>
      {installed.error === undefined ? null : <p role="alert">{installed.error}</p>}
      {installed.data?.skills.length === 0 ? <p class="empty">No skills are installed.</p> : null}
      {(installed.data?.skills.length ?? 0) === 0 ? null : (
        <div class="scroll">
          <table>
            <caption class="visually-hidden">Installed skills</caption>
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {installed.data!.skills.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    {s.name} <span class="muted">{s.version}</span>
                  </th>
                  <td>{s.reason === undefined ? s.status : `${s.status}: ${s.reason}`}</td>
                  <td class="actions">
                    <button type="button" onClick={() => props.onReviewUpdate(s.name)}>
                      Review update <span class="visually-hidden">of {s.name}</span>
                    </button>{" "}
                    <button type="button" onClick={() => void rollback(s)}>
                      Roll back <span class="visually-hidden">{s.name}</span>
                    </button>{" "}
                    <button type="button" onClick={() => setRemoving(s.name)}>
                      Uninstall <span class="visually-hidden">{s.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {removing === undefined ? null : (
        <div class="card consent" role="dialog" aria-labelledby="uninstall-h">
          <h4 id="uninstall-h">Uninstall {removing}?</h4>
          <p>Every chat loses it. Its settings and grants stay unless its stored data is deleted too.</p>
          <label>
            <input type="checkbox" checked={purge} onChange={(e) => setPurge((e.target as HTMLInputElement).checked)} />{" "}
            Also delete its stored data
          </label>
          <p>
            <button type="button" onClick={() => void uninstall(removing)}>
              Confirm uninstall
            </button>{" "}
            <button type="button" class="link" onClick={() => setRemoving(undefined)}>
              Cancel
            </button>
          </p>
        </div>
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
