/** Shared by the multi-process test and its worker processes. */
import type { AdapterCapabilities, ChannelAdapter, PluginFactory } from "../../../bot/index.ts";

/** A platform that accepts every message and shows nothing. */
export function quietAdapter(): ChannelAdapter {
  return {
    platform: "e2e",
    capabilities: {
      edit: false,
      buttons: false,
      ephemeral: false,
      typing: false,
      maxTextLength: 4000,
    } satisfies AdapterCapabilities,
    start: async () => undefined,
    stop: async () => undefined,
    send: async (target) => ({ platform: "e2e", chatId: target.chatId, messageId: "0" }),
    edit: async () => undefined,
    registerCommands: async () => undefined,
    health: () => ({ platform: "e2e", state: "up", lastInboundAt: null, lastApiOkAt: null }),
  };
}

/** `/mark <n>` inserts (delivery id, n, process) into `e2e_marks`. */
export const markPlugin =
  (name: string): PluginFactory =>
  (core) => {
    core.commands.register({
      name: "mark",
      description: "records this run",
      defaultRole: "guest",
      source: "builtin",
      handler: async (ctx) => {
        await core.store.sql.query(
          "INSERT INTO e2e_marks (delivery_id, schedule_id, process, at) VALUES ($1, $2, $3, $4)",
          [ctx.inbound.deliveryId, ctx.rawArgs, name, Date.now()],
        );
      },
    });
    return {
      name: "mark",
      migrations: [
        {
          id: "e2e-001-marks",
          sql: "CREATE TABLE IF NOT EXISTS e2e_marks (id bigserial PRIMARY KEY, delivery_id text NOT NULL, schedule_id text NOT NULL, process text NOT NULL, at bigint NOT NULL)",
        },
      ],
    };
  };
