/**
 * The morning view: messages per platform and LLM tokens and cost per day (charts), adapter health, the most
 * used commands and skills, and the latest errors.
 */
import { useMemo } from "preact/hooks";
import { api, query } from "../api.ts";
import { DayChart, type Series } from "../chart.tsx";
import { dayOf, formatCost, formatCount, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";

const DAY_MS = 86_400_000;

interface Activity {
  commands: { name: string; count: number }[];
  skills: { name: string; count: number }[];
  errors: { at: number; code: string }[];
}
interface MessageRow {
  day: string;
  platform: string;
  messagesIn: number;
  messagesOut: number;
}
interface UsageRow {
  day?: string;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  count: number;
}
interface AdapterHealth {
  platform: string;
  state: string;
  lastInboundAt: number | null;
  lastApiOkAt: number | null;
  detail?: string;
  reconnects?: number;
  apiError?: string;
}

/** Every day from `from` to `to` (inclusive), `YYYY-MM-DD`. */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) out.push(dayOf(t));
  return out;
}

/** Messages and commands are bot-wide figures, for bot owners; a chat admin sees LLM usage of their chats. */
const OWNERS_ONLY = { commands: [], skills: [], errors: [] } satisfies Activity;

export function DashboardPage(props: { isOwner: boolean }) {
  const to = dayOf(Date.now());
  const from = dayOf(Date.now() - 29 * DAY_MS);
  const activity = useLoad(
    () => (props.isOwner ? api<Activity>("GET", `/api/activity${query({ from, to })}`) : Promise.resolve(OWNERS_ONLY)),
    [from, to, props.isOwner],
  );
  const messages = useLoad(
    () =>
      props.isOwner
        ? api<{ rows: MessageRow[] }>("GET", `/api/usage/messages${query({ from, to })}`)
        : Promise.resolve({ rows: [] as MessageRow[] }),
    [from, to, props.isOwner],
  );
  const usage = useLoad(
    () => api<{ rows: UsageRow[] }>("GET", `/api/usage${query({ groupBy: "day", from, to })}`),
    [from, to],
  );
  const adapters = useLoad(() => api<{ adapters: AdapterHealth[] }>("GET", "/api/adapters"), []);
  const days = useMemo(() => daysBetween(from, to), [from, to]);

  const messageSeries = useMemo((): Series[] => {
    const rows = messages.data?.rows ?? [];
    const platforms = [...new Set(rows.map((r) => r.platform))].sort();
    return platforms.map((platform) => {
      const byDay = new Map(rows.filter((r) => r.platform === platform).map((r) => [r.day, r.messagesIn]));
      return { label: platform, values: days.map((d) => byDay.get(d) ?? 0) };
    });
  }, [messages.data, days]);
  const [tokenSeries, costSeries] = useMemo((): [Series[], Series[]] => {
    const byDay = new Map((usage.data?.rows ?? []).map((r) => [r.day ?? "", r]));
    const pick = (f: (r: UsageRow) => number) => days.map((d) => (byDay.has(d) ? f(byDay.get(d)!) : 0));
    return [
      [
        { label: "input tokens", values: pick((r) => r.inputTokens) },
        { label: "output tokens", values: pick((r) => r.outputTokens) },
      ],
      [{ label: "cost", values: pick((r) => Math.round(r.cost * 10_000) / 10_000) }],
    ];
  }, [usage.data, days]);
  const totals = useMemo(() => {
    const rows = usage.data?.rows ?? [];
    return {
      tokens: rows.reduce((s, r) => s + r.inputTokens + r.outputTokens, 0),
      cost: rows.reduce((s, r) => s + r.cost, 0),
      messages: (messages.data?.rows ?? []).reduce((s, r) => s + r.messagesIn, 0),
    };
  }, [usage.data, messages.data]);

  return (
    <section>
      <h1>Dashboard</h1>
      <p class="muted">
        The last 30 days ({from} to {to}, UTC).
        {props.isOwner
          ? ""
          : " Messages, commands, skills and errors are bot-wide figures, shown to bot owners; LLM usage is that of your chats."}
      </p>
      <p>
        Export the LLM usage of these days, by day:{" "}
        <a href={`/api/usage/export${query({ groupBy: "day", from, to, format: "csv" })}`}>CSV</a> ·{" "}
        <a href={`/api/usage/export${query({ groupBy: "day", from, to, format: "json" })}`}>JSON</a>
      </p>
      <ul class="tiles" aria-label="Totals">
        <li>
          <span class="figure">{formatCount(totals.messages)}</span> messages in
        </li>
        <li>
          <span class="figure">{formatCount(totals.tokens)}</span> LLM tokens
        </li>
        <li>
          <span class="figure">{formatCost(totals.cost)}</span> LLM cost
        </li>
      </ul>
      <div class="charts">
        {messages.error === undefined ? (
          <DayChart
            title="Messages per platform"
            days={messages.data === undefined ? [] : days}
            series={messageSeries}
          />
        ) : (
          <p role="alert">Messages: {messages.error}</p>
        )}
        {usage.error === undefined ? (
          <>
            <DayChart title="LLM tokens per day" days={usage.data === undefined ? [] : days} series={tokenSeries} />
            <DayChart
              title="LLM cost per day"
              days={usage.data === undefined ? [] : days}
              series={costSeries}
              unit="USD"
            />
          </>
        ) : (
          <p role="alert">LLM usage: {usage.error}</p>
        )}
      </div>
      <div class="columns">
        <section aria-labelledby="adapters-h" class="wide">
          <h2 id="adapters-h">Adapters</h2>
          {adapters.error !== undefined ? <p role="alert">{adapters.error}</p> : null}
          <table>
            <thead>
              <tr>
                <th scope="col">Platform</th>
                <th scope="col">State</th>
                <th scope="col">Last event</th>
                <th scope="col">Reconnects</th>
              </tr>
            </thead>
            <tbody>
              {(adapters.data?.adapters ?? []).map((a) => (
                <tr key={a.platform}>
                  <th scope="row">{a.platform}</th>
                  <td>
                    <span class={`state state-${a.state}`}>{a.state}</span>
                    {a.detail === undefined ? null : <span class="muted"> {a.detail}</span>}
                    {a.apiError === undefined ? null : <span class="muted"> {a.apiError}</span>}
                  </td>
                  <td>{formatTime(a.lastInboundAt)}</td>
                  <td>{a.reconnects ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section aria-labelledby="commands-h">
          <h2 id="commands-h">Top commands</h2>
          {activity.error === undefined ? null : <p role="alert">{activity.error}</p>}
          {activity.data?.commands.length === 0 ? <p class="empty">No commands run in these days.</p> : null}
          <ol class="ranking">
            {(activity.data?.commands ?? []).map((c) => (
              <li key={c.name}>
                <code>/{c.name}</code> <span class="muted">{formatCount(c.count)}</span>
              </li>
            ))}
          </ol>
        </section>
        <section aria-labelledby="skills-h">
          <h2 id="skills-h">Top skills</h2>
          {activity.data?.skills.length === 0 ? <p class="empty">No skill commands run in these days.</p> : null}
          <ol class="ranking">
            {(activity.data?.skills ?? []).map((s) => (
              <li key={s.name}>
                <code>{s.name}</code> <span class="muted">{formatCount(s.count)}</span>
              </li>
            ))}
          </ol>
        </section>
        <section aria-labelledby="errors-h">
          <h2 id="errors-h">Recent errors</h2>
          {activity.data?.errors.length === 0 ? <p class="empty">No errors in these days.</p> : null}
          <ul class="errors">
            {(activity.data?.errors ?? []).map((e) => (
              <li key={`${e.at}-${e.code}`}>
                <code>{e.code}</code> <span class="muted">{formatTime(e.at)}</span>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}
