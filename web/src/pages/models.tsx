/** Models: calls, failures by kind, latency, tokens, cost, feedback, and whether each is cooling down. */
import { api } from "../api.ts";
import { formatCost, formatCount, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";

interface ModelStats {
  name: string;
  provider: string;
  model: string;
  calls: number;
  failures: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  thumbsUp: number;
  thumbsDown: number;
  cooldown: { kind: string; untilMs: number } | null;
}

export function ModelsPage() {
  const models = useLoad(() => api<{ retentionDays: number; models: ModelStats[] }>("GET", "/api/models"), []);
  return (
    <section>
      <h1>Models</h1>
      {models.error === undefined ? null : <p role="alert">{models.error}</p>}
      {models.data === undefined ? null : (
        <>
          <p class="muted">Figures of the last {models.data.retentionDays} days.</p>
          {models.data.models.length === 0 ? <p class="empty">No models are configured.</p> : null}
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Calls</th>
                  <th scope="col">Failures</th>
                  <th scope="col">p50 / p95</th>
                  <th scope="col">Tokens in / out</th>
                  <th scope="col">Cost</th>
                  <th scope="col">Feedback</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {models.data.models.map((m) => (
                  <tr key={m.name}>
                    <th scope="row">
                      {m.name} <span class="muted">{`${m.provider} · ${m.model}`}</span>
                    </th>
                    <td>{formatCount(m.calls)}</td>
                    <td>
                      {Object.entries(m.failures)
                        .map(([kind, n]) => `${kind} ${n}`)
                        .join(", ") || "none"}
                    </td>
                    <td>
                      {m.p50Ms === null ? "—" : `${Math.round(m.p50Ms)} ms`} /{" "}
                      {m.p95Ms === null ? "—" : `${Math.round(m.p95Ms)} ms`}
                    </td>
                    <td>
                      {formatCount(m.inputTokens)} / {formatCount(m.outputTokens)}
                    </td>
                    <td>{formatCost(m.cost)}</td>
                    <td>
                      {/* Words, not 👍/👎: a machine without an emoji font shows those as empty boxes. */}
                      {m.thumbsUp} up · {m.thumbsDown} down
                    </td>
                    <td>
                      {m.cooldown === null ? (
                        <span class="state state-up">ready</span>
                      ) : (
                        <span class="state state-down">
                          cooling down ({m.cooldown.kind}) until {formatTime(m.cooldown.untilMs)}
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
