/** Grafana's webhook contact point (unified alerting), and the legacy alert notification shape. */
import { capped, esc, labels, link, listOf, pick } from "./text.ts";

/** Render a Grafana alert notification, with panel and dashboard links. */
export function renderGrafana(payload: unknown): string {
  const alerts = listOf(pick(payload, "alerts"));
  if (alerts.length === 0) {
    // Legacy alerting: one rule, its state and message.
    const title = pick(payload, "title") ?? pick(payload, "ruleName") ?? "Grafana alert";
    const lines = [`**${esc(title, 160)}** (${esc(pick(payload, "state") ?? "alerting", 20)})`];
    const message = pick(payload, "message");
    if (message !== undefined) lines.push(esc(message, 500));
    const rule = pick(payload, "ruleUrl");
    if (rule !== undefined) lines.push(link("panel", rule));
    return lines.join("\n");
  }
  const status = String(pick(payload, "status") ?? "firing");
  const title = pick(payload, "title") ?? pick(payload, "commonLabels.alertname") ?? "Grafana alert";
  const lines = [`**${esc(title, 160)}** (${esc(status, 20)})`];
  const items = alerts.map((a) => {
    const name = pick(a, "annotations.summary") ?? pick(a, "labels.alertname") ?? "alert";
    const value = pick(a, "valueString");
    const links = [
      pick(a, "panelURL") === undefined ? "" : link("panel", pick(a, "panelURL")),
      pick(a, "dashboardURL") === undefined ? "" : link("dashboard", pick(a, "dashboardURL")),
      pick(a, "silenceURL") === undefined ? "" : link("silence", pick(a, "silenceURL")),
    ].filter((s) => s !== "");
    return `- ${esc(pick(a, "status") ?? status, 20)}: ${esc(name, 160)} (${labels(pick(a, "labels"), 6)})${
      value === undefined ? "" : ` ${esc(value, 200)}`
    }${links.length === 0 ? "" : ` ${links.join(" ")}`}`;
  });
  lines.push(...capped(items, 10));
  const external = pick(payload, "externalURL");
  if (external !== undefined) lines.push(link("Grafana", external));
  return lines.join("\n");
}
