/**
 * Chats you may administer: the permission editor (minimum role per command, role overrides, allow and deny
 * lists, platform admins), a member's effective role, and the chat's audit trail. Bot owners also edit the
 * bot-wide policy (chat key `*`: defaults for every chat, and who may talk to the bot in a DM).
 */
import { useEffect, useState } from "preact/hooks";
import { api, type Principal, query } from "../api.ts";
import { useLoad, messageOf } from "../hooks.ts";
import { AuditTable, type AuditEntry } from "./audit.tsx";

const ROLES = ["guest", "member", "admin", "owner"] as const;

interface Chat {
  chatKey: string;
  kind: string;
  title: string | null;
  lastSeenAt: number;
  hasPolicy: boolean;
  role: string;
}
interface Policy {
  commandRoles: Record<string, string>;
  roleOverrides: Record<string, string>;
  allow: string[];
  deny: string[];
  trustPlatformAdmins: boolean;
  dm?: string;
}

const EMPTY_POLICY: Policy = { commandRoles: {}, roleOverrides: {}, allow: [], deny: [], trustPlatformAdmins: true };

/** The bot-wide policy's key, and how the chat list shows it to bot owners. */
const GLOBAL_KEY = "*";
const GLOBAL_CHAT: Chat = {
  chatKey: GLOBAL_KEY,
  kind: "every chat and DM",
  title: "Bot-wide policy",
  lastSeenAt: 0,
  hasPolicy: true,
  role: "owner",
};
const DM_POLICIES = [
  ["open", "anyone may write to the bot"],
  ["allowlist", "only the allowed people below (and bot owners)"],
  ["closed", "bot owners only"],
] as const;

export function ChatsPage(props: { principal: Principal }) {
  const chats = useLoad(() => api<{ chats: Chat[] }>("GET", "/api/chats"), []);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const list = [...(chats.data?.chats ?? []), ...(props.principal.isOwner ? [GLOBAL_CHAT] : [])];
  const chat = list.find((c) => c.chatKey === selected) ?? list[0];
  return (
    <section>
      <h1>Chats</h1>
      {chats.error === undefined ? null : <p role="alert">{chats.error}</p>}
      {chats.data !== undefined && chats.data.chats.length === 0 && !props.principal.isOwner ? (
        <p class="empty">No chat you may administer has written to the bot yet.</p>
      ) : null}
      {list.length > 0 ? (
        <p>
          <label for="chat-select">Chat</label>{" "}
          <select
            id="chat-select"
            value={chat?.chatKey}
            onChange={(e) => setSelected((e.target as HTMLSelectElement).value)}
          >
            {list.map((c) => (
              <option key={c.chatKey} value={c.chatKey}>
                {c.title === null ? c.chatKey : `${c.title} (${c.chatKey})`}
              </option>
            ))}
          </select>
        </p>
      ) : null}
      {chat === undefined ? null : <ChatDetail key={chat.chatKey} chat={chat} principal={props.principal} />}
    </section>
  );
}

function ChatDetail(props: { chat: Chat; principal: Principal }) {
  const { chatKey } = props.chat;
  const isGlobal = chatKey === GLOBAL_KEY;
  const path = `/api/chats/${isGlobal ? GLOBAL_KEY : encodeURIComponent(chatKey)}`;
  const policy = useLoad(() => api<{ policy: Policy | null }>("GET", `${path}/policy`), [chatKey]);
  const [auditRound, setAuditRound] = useState(0);
  const audit = useLoad(
    () => api<{ entries: AuditEntry[] }>("GET", `/api/audit${query({ chatKey, limit: 20 })}`),
    [chatKey, auditRound],
  );
  return (
    <>
      <h2>{props.chat.title ?? chatKey}</h2>
      <p class="muted">
        <code>{chatKey}</code> · {props.chat.kind} · your role here: {props.chat.role}
        {props.chat.hasPolicy ? "" : " · no policy yet: privileged commands are for bot owners"}
      </p>
      {isGlobal ? (
        <p class="muted">Defaults for every chat; a chat's own policy wins where it says otherwise.</p>
      ) : null}
      {policy.error === undefined ? null : <p role="alert">{policy.error}</p>}
      {policy.data === undefined ? null : (
        <PolicyEditor
          path={path}
          isGlobal={isGlobal}
          initial={policy.data.policy ?? EMPTY_POLICY}
          onSaved={() => {
            policy.reload();
            setAuditRound((r) => r + 1);
          }}
        />
      )}
      {isGlobal ? null : <MemberRole path={path} />}
      <section aria-labelledby="chat-audit-h">
        <h3 id="chat-audit-h">Audit trail</h3>
        {audit.error === undefined ? null : <p role="alert">{audit.error}</p>}
        <AuditTable entries={audit.data?.entries ?? []} showChat={false} />
      </section>
    </>
  );
}

function PolicyEditor(props: { path: string; isGlobal: boolean; initial: Policy; onSaved(): void }) {
  const [draft, setDraft] = useState<Policy>(props.initial);
  const [command, setCommand] = useState("");
  const [role, setRole] = useState("admin");
  const [status, setStatus] = useState<string | undefined>(undefined);
  useEffect(() => setDraft(props.initial), [props.initial]);

  const save = async (e: Event) => {
    e.preventDefault();
    setStatus("Saving…");
    try {
      const body: Policy = { ...draft };
      if (body.dm === undefined) delete body.dm;
      await api("PUT", `${props.path}/policy`, body);
      setStatus("Saved.");
      props.onSaved();
    } catch (error) {
      setStatus(`Not saved: ${messageOf(error)}`);
    }
  };
  const setCommandRole = (name: string, value: string | undefined) => {
    const next = { ...draft.commandRoles };
    if (value === undefined) delete next[name];
    else next[name] = value;
    setDraft({ ...draft, commandRoles: next });
  };
  const lines = (v: string) =>
    v
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s !== "");

  return (
    <form class="card" onSubmit={save} aria-labelledby="policy-h">
      <h3 id="policy-h">Permissions</h3>
      <table>
        <caption>Minimum role per command</caption>
        <thead>
          <tr>
            <th scope="col">Command</th>
            <th scope="col">Minimum role</th>
            <th scope="col">
              <span class="visually-hidden">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(draft.commandRoles).map(([name, value]) => (
            <tr key={name}>
              <th scope="row">
                <code>/{name}</code>
              </th>
              <td>
                <select
                  aria-label={`Minimum role for /${name}`}
                  value={value}
                  onChange={(e) => setCommandRole(name, (e.target as HTMLSelectElement).value)}
                >
                  {ROLES.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              </td>
              <td>
                <button type="button" class="link" onClick={() => setCommandRole(name, undefined)}>
                  Remove <span class="visually-hidden">/{name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="row">
        <label>
          Command{" "}
          <input
            value={command}
            placeholder="deploy"
            onInput={(e) => setCommand((e.target as HTMLInputElement).value)}
          />
        </label>
        <span>
          <label for="new-command-role">Role</label>{" "}
          <select id="new-command-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </span>
        <button
          type="button"
          onClick={() => {
            const name = command.trim().replace(/^\//, "");
            if (name === "") return;
            setCommandRole(name, role);
            setCommand("");
          }}
        >
          Set role
        </button>
      </div>
      <label class="stack">
        <span>
          Allowed people (one <code>platform:userId</code> per line)
        </span>
        <textarea
          rows={2}
          value={draft.allow.join("\n")}
          onInput={(e) => setDraft({ ...draft, allow: lines((e.target as HTMLTextAreaElement).value) })}
        />
      </label>
      <label class="stack">
        Denied people
        <textarea
          rows={2}
          value={draft.deny.join("\n")}
          onInput={(e) => setDraft({ ...draft, deny: lines((e.target as HTMLTextAreaElement).value) })}
        />
      </label>
      {props.isGlobal ? (
        <p>
          <label for="dm-policy">Direct messages</label>{" "}
          <select
            id="dm-policy"
            value={draft.dm ?? ""}
            onChange={(e) => {
              const dm = (e.target as HTMLSelectElement).value;
              setDraft({ ...draft, dm: dm === "" ? undefined : dm });
            }}
          >
            <option value="">as configured (permissions.dm)</option>
            {DM_POLICIES.map(([value, words]) => (
              <option key={value} value={value}>
                {value}: {words}
              </option>
            ))}
          </select>
        </p>
      ) : null}
      <label>
        <input
          type="checkbox"
          checked={draft.trustPlatformAdmins}
          onChange={(e) => setDraft({ ...draft, trustPlatformAdmins: (e.target as HTMLInputElement).checked })}
        />{" "}
        The platform's admins are admins here
      </label>
      <p>
        <button type="submit">Save permissions</button> <span aria-live="polite">{status}</span>
      </p>
    </form>
  );
}

function MemberRole(props: { path: string }) {
  const members = useLoad(
    () => api<{ members: { userKey: string; role: string; source: string }[] }>("GET", `${props.path}/members`),
    [props.path],
  );
  const [user, setUser] = useState("");
  const [answer, setAnswer] = useState<string | undefined>(undefined);
  const look = async (e: Event) => {
    e.preventDefault();
    try {
      const { members } = await api<{ members: { userKey: string; role: string; source: string }[] }>(
        "GET",
        `${props.path}/members${query({ user: user.trim() })}`,
      );
      const m = members[0];
      setAnswer(m === undefined ? "Nobody by that name." : `${m.userKey} is ${m.role} here (${m.source}).`);
    } catch (error) {
      setAnswer(messageOf(error));
    }
  };
  return (
    <section class="card" aria-labelledby="members-h">
      <h3 id="members-h">Members</h3>
      {members.data === undefined || members.data.members.length === 0 ? (
        <p class="empty">Nobody is named by this chat's policy or audit trail yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Person</th>
              <th scope="col">Effective role</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {members.data.members.map((m) => (
              <tr key={m.userKey}>
                <th scope="row">{m.userKey}</th>
                <td>{m.role}</td>
                <td class="muted">{m.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="row" onSubmit={look}>
        <label>
          Effective role of{" "}
          <input
            required
            value={user}
            placeholder="telegram:12345"
            onInput={(e) => setUser((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Look up</button>
        <output aria-live="polite">{answer}</output>
      </form>
    </section>
  );
}
