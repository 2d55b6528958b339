/** One entry to the templates: a stored delivery's payload to the message text posted in the chat. */
import { cleanChatText } from "../../bot/index.ts";
import type { HookRecord } from "../store.ts";
import { renderAlertmanager } from "./alertmanager.ts";
import { renderGeneric } from "./generic.ts";
import { renderGithub } from "./github.ts";
import { renderGrafana } from "./grafana.ts";
import { esc, pick } from "./text.ts";

export { checkFormat } from "./generic.ts";

/**
 * Render a delivery for its hook: the template's text, cleaned for the chat (controls and bidi removed, mentions
 * neutralised unless the hook allows them), cut to `maxChars`.
 */
export function renderDelivery(o: {
  hook: Pick<HookRecord, "template" | "options" | "name">;
  payload: unknown;
  meta: Record<string, string>;
  maxChars: number;
}): string {
  const raw = renderRaw(o);
  const clean = cleanChatText(raw, { mentions: o.hook.options.allowMentions === true });
  return clean.length > o.maxChars ? `${clean.slice(0, o.maxChars - 1)}…` : clean;
}

function renderRaw(o: {
  hook: Pick<HookRecord, "template" | "options" | "name">;
  payload: unknown;
  meta: Record<string, string>;
}): string {
  switch (o.hook.template) {
    case "alertmanager":
      return renderAlertmanager(o.payload);
    case "github":
      return renderGithub(o.payload, o.meta.event ?? "");
    case "grafana":
      return renderGrafana(o.payload);
    case "workflow": {
      const status = pick(o.payload, "status") ?? "update";
      const text = pick(o.payload, "text");
      return `**${esc(o.meta.workflow ?? o.hook.name, 64)}**: ${esc(status, 30)}${text === undefined ? "" : ` — ${esc(text, 1_500)}`}`;
    }
    default:
      return renderGeneric(o.payload, o.hook.options);
  }
}
