/**
 * Schedules: each with its next fire in its chat's time zone; a create form that previews the cron text in
 * words and its next fires while it is typed.
 */
import { useEffect, useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { formatTime } from "../format.ts";
import { messageOf, useLoad } from "../hooks.ts";

interface Schedule {
  id: string;
  chatKey: string;
  kind: string;
  expression: string | null;
  description: string;
  timeZone: string;
  commandLine: string;
  state: string;
  nextFireAt: number | null;
  lastFireAt: number | null;
  lastOutcome: string | null;
  creator: { userKey: string; name: string };
}
interface Preview {
  description: string;
  timeZone: string;
  nextFires: number[];
}

export function SchedulesPage() {
  const schedules = useLoad(() => api<{ schedules: Schedule[] }>("GET", "/api/schedules"), []);
  const chats = useLoad(() => api<{ chats: { chatKey: string; title: string | null }[] }>("GET", "/api/chats"), []);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const act = async (s: Schedule, what: "pause" | "resume" | "delete") => {
    try {
      if (what === "delete") await api("DELETE", `/api/schedules/${encodeURIComponent(s.id)}`);
      else await api("POST", `/api/schedules/${encodeURIComponent(s.id)}/${what}`);
      setStatus(`${s.commandLine} in ${s.chatKey}: ${what === "delete" ? "deleted" : `${what}d`}.`);
      schedules.reload();
    } catch (error) {
      setStatus(messageOf(error));
    }
  };
  return (
    <section>
      <h1>Schedules</h1>
      {schedules.error === undefined ? null : <p role="alert">{schedules.error}</p>}
      {schedules.data?.schedules.length === 0 ? <p class="empty">No schedules yet.</p> : null}
      {(schedules.data?.schedules.length ?? 0) > 0 ? (
        <div class="scroll">
          <table class="schedules">
            <thead>
              <tr>
                <th scope="col">Chat</th>
                <th scope="col">Runs</th>
                <th scope="col">When</th>
                <th scope="col">Next fire (chat's zone)</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {schedules.data?.schedules.map((s) => (
                <tr key={s.id}>
                  <td>
                    <code>{s.chatKey}</code>
                  </td>
                  <td>
                    <code>{s.commandLine}</code>
                  </td>
                  <td>
                    {s.description}
                    {s.expression === null ? null : <span class="muted"> ({s.expression})</span>}
                  </td>
                  <td class="next-fire">{formatTime(s.nextFireAt, s.timeZone)}</td>
                  <td>
                    {s.state}
                    {s.lastOutcome === null ? "" : ` · last: ${s.lastOutcome}`}
                  </td>
                  <td class="actions">
                    {s.state === "paused" ? (
                      <button type="button" onClick={() => void act(s, "resume")}>
                        Resume
                      </button>
                    ) : (
                      <button type="button" onClick={() => void act(s, "pause")}>
                        Pause
                      </button>
                    )}{" "}
                    <button type="button" onClick={() => void act(s, "delete")}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <p role="status" aria-live="polite">
        {status}
      </p>
      <CreateSchedule chats={chats.data?.chats ?? []} onCreated={schedules.reload} />
    </section>
  );
}

function CreateSchedule(props: { chats: { chatKey: string; title: string | null }[]; onCreated(): void }) {
  const [chatKey, setChatKey] = useState("");
  const [cron, setCron] = useState("0 9 * * 1-5");
  const [timeZone, setTimeZone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [commandLine, setCommandLine] = useState("");
  const [preview, setPreview] = useState<Preview | string | undefined>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const chosen = chatKey || props.chats[0]?.chatKey || "";

  useEffect(() => {
    if (cron.trim() === "") return setPreview(undefined);
    const timer = setTimeout(() => {
      api<Preview>("GET", `/api/schedules/preview${query({ cron, timeZone, count: 3 })}`).then(setPreview, (e) =>
        setPreview(messageOf(e)),
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [cron, timeZone]);

  const create = async (e: Event) => {
    e.preventDefault();
    setStatus("Creating…");
    try {
      await api("POST", "/api/schedules", { chatKey: chosen, cron, timeZone, commandLine });
      setStatus("Created.");
      setCommandLine("");
      props.onCreated();
    } catch (error) {
      setStatus(`Not created: ${messageOf(error)}`);
    }
  };
  return (
    <form class="card" onSubmit={create} aria-labelledby="create-h">
      <h2 id="create-h">New schedule</h2>
      <div class="row">
        <span>
          <label for="schedule-chat">Chat</label>{" "}
          <select
            id="schedule-chat"
            value={chosen}
            onChange={(e) => setChatKey((e.target as HTMLSelectElement).value)}
            required
          >
            {props.chats.map((c) => (
              <option key={c.chatKey} value={c.chatKey}>
                {c.title === null ? c.chatKey : `${c.title} (${c.chatKey})`}
              </option>
            ))}
          </select>
        </span>
        <label>
          Cron{" "}
          <input name="cron" required value={cron} onInput={(e) => setCron((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Time zone{" "}
          <input
            name="timeZone"
            required
            value={timeZone}
            onInput={(e) => setTimeZone((e.target as HTMLInputElement).value)}
          />
        </label>
      </div>
      <div class="preview" aria-live="polite">
        {typeof preview === "string" ? (
          <p class="invalid">{preview}</p>
        ) : preview === undefined ? null : (
          <p>
            <strong class="cron-words">{preview.description}</strong>
            <br />
            <span class="muted">Next: {preview.nextFires.map((t) => formatTime(t, preview.timeZone)).join("; ")}</span>
          </p>
        )}
      </div>
      <label class="stack">
        Command line (runs as you)
        <input
          name="commandLine"
          required
          value={commandLine}
          placeholder="/status"
          onInput={(e) => setCommandLine((e.target as HTMLInputElement).value)}
        />
      </label>
      <p>
        <button type="submit">Create schedule</button> <span aria-live="polite">{status}</span>
      </p>
    </form>
  );
}
