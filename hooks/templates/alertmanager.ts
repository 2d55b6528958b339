/** Alertmanager's webhook (version 4): one message per group, firing alerts before resolved ones. */
import { capped, esc, labels, link, listOf, pick } from "./text.ts";

/** Render an Alertmanager notification. */
export function renderAlertmanager(payload: unknown): string {
  const alerts = listOf(pick(payload, "alerts"));
  const firing = alerts.filter((a) => pick(a, "status") !== "resolved");
  const resolved = alerts.filter((a) => pick(a, "status") === "resolved");
  const name = pick(payload, "groupLabels.alertname") ?? pick(payload, "commonLabels.alertname") ?? "alerts";
  const status = firing.length > 0 ? `FIRING:${firing.length}` : `RESOLVED:${resolved.length}`;
  const group = labels(pick(payload, "groupLabels"));
  const lines = [`**[${status}] ${esc(name, 120)}**${group === "" ? "" : ` (${group})`}`];
  const line = (a: unknown, state: string): string => {
    const summary = pick(a, "annotations.summary") ?? pick(a, "annotations.description") ?? pick(a, "labels.alertname");
    const source = pick(a, "generatorURL");
    const tail = source === undefined ? "" : ` ${link("source", source)}`;
    return `- ${state}: ${esc(summary, 160)} (${labels(pick(a, "labels"), 6)})${tail}`;
  };
  lines.push(
    ...capped(
      firing.map((a) => line(a, "firing")),
      10,
    ),
  );
  lines.push(
    ...capped(
      resolved.map((a) => line(a, "resolved")),
      10,
    ),
  );
  const truncated = Number(pick(payload, "truncatedAlerts") ?? 0);
  if (truncated > 0) lines.push(`… ${truncated} more alerts were left out by Alertmanager`);
  const external = pick(payload, "externalURL");
  if (external !== undefined) lines.push(link("Alertmanager", external));
  return lines.join("\n");
}
