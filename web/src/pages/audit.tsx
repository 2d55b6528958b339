/** The audit log: filters by chat, actor, action and time, newest first, a page at a time (cursor). */
import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { formatTime } from "../format.ts";
import { messageOf } from "../hooks.ts";

/** One entry as `/api/audit` answers it. */
export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  chatKey: string;
  action: string;
  target: string | null;
  via: string | null;
  before: unknown;
  after: unknown;
}

/** A change's before and after, short. */
function change(e: AuditEntry): string {
  const show = (v: unknown) => (v === null || v === undefined ? "—" : JSON.stringify(v));
  return `${show(e.before)} → ${show(e.after)}`;
}

/** Entries as a table. */
export function AuditTable(props: { entries: AuditEntry[]; showChat: boolean }) {
  if (props.entries.length === 0) return <p class="empty">No entries.</p>;
  return (
    <div class="scroll">
      <table class="audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            {props.showChat ? <th scope="col">Chat</th> : null}
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Via</th>
            <th scope="col">Change</th>
          </tr>
        </thead>
        <tbody>
          {props.entries.map((e) => (
            <tr key={e.id}>
              <td>{formatTime(e.at)}</td>
              {props.showChat ? (
                <td>
                  <code>{e.chatKey}</code>
                </td>
              ) : null}
              <td>{e.actor}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>{e.target ?? ""}</td>
              <td>{e.via ?? ""}</td>
              <td class="change">{change(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface Filters {
  chatKey: string;
  actor: string;
  action: string;
  since: string;
  until: string;
}

const startOf = (day: string): number | undefined => (day === "" ? undefined : Date.parse(`${day}T00:00:00`));

/** The filters as the API takes them: days as times, the end day included. */
function exportFilters(f: Filters): Record<string, string | number | undefined> {
  const until = startOf(f.until);
  return {
    chatKey: f.chatKey,
    actor: f.actor,
    action: f.action,
    since: startOf(f.since),
    until: until === undefined ? undefined : until + 86_400_000,
  };
}

export function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ chatKey: "", actor: "", action: "", since: "", until: "" });
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [hasSearched, setSearched] = useState(false);

  const load = async (from: number | undefined) => {
    setStatus("Loading…");
    try {
      const page = await api<{ entries: AuditEntry[]; nextCursor: number | null }>(
        "GET",
        `/api/audit${query({ ...exportFilters(filters), cursor: from, limit: 50 })}`,
      );
      setEntries((old) => (from === undefined ? page.entries : [...old, ...page.entries]));
      setCursor(page.nextCursor);
      setStatus(undefined);
      setSearched(true);
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  const field = ({
    name,
    label,
    type = "text",
    placeholder = "",
  }: {
    name: keyof Filters;
    label: string;
    type?: string;
    placeholder?: string;
  }) => (
    <label>
      {label}{" "}
      <input
        type={type}
        name={name}
        value={filters[name]}
        placeholder={placeholder}
        onInput={(e) => setFilters({ ...filters, [name]: (e.target as HTMLInputElement).value })}
      />
    </label>
  );
  return (
    <section>
      <h1>Audit log</h1>
      <form
        class="card filters"
        onSubmit={(e) => {
          e.preventDefault();
          void load(undefined);
        }}
      >
        {field({ name: "chatKey", label: "Chat", placeholder: "telegram:-100123 (owners: empty for all)" })}
        {field({ name: "actor", label: "Who", placeholder: "slack:U123" })}
        {field({ name: "action", label: "Action", placeholder: "perms.set" })}
        {field({ name: "since", label: "From", type: "date" })}
        {field({ name: "until", label: "To", type: "date" })}
        <button type="submit">Show</button>
      </form>
      <p aria-live="polite" role="status">
        {status}
      </p>
      {hasSearched ? (
        <p>
          Export these filters (up to 1,000 entries):{" "}
          <a href={`/api/audit/export${query({ ...exportFilters(filters), format: "csv" })}`} download>
            CSV
          </a>{" "}
          ·{" "}
          <a href={`/api/audit/export${query({ ...exportFilters(filters), format: "json" })}`} download>
            JSON
          </a>
        </p>
      ) : null}
      {hasSearched ? <AuditTable entries={entries} showChat={true} /> : null}
      {cursor === null ? null : (
        <button type="button" onClick={() => void load(cursor)}>
          Older entries
        </button>
      )}
    </section>
  );
}
