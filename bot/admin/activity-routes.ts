/** `GET /api/activity`: the most run commands and skills and recent errors, for the console's dashboard (bot owners). */
import { z } from "zod";
import type { ApiAccess, Clock } from "../core.ts";
import { ApiError, defineRoute, type ApiRoute } from "../http/routes.ts";
import type { SqlClient } from "../storage/types.ts";
import { dayOf } from "./activity.ts";

const DAY_MS = 86_400_000;
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a day is YYYY-MM-DD");
const errorSchema = z.object({ error: z.string(), message: z.string() });

/** The route, mounted with the admin API. */
export function activityRoutes(o: { sql: SqlClient; clock: Clock; access: ApiAccess }): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/api/activity",
      summary: "The ten most run commands and skills and the last 20 errors in a range of days, bot-wide (bot owners)",
      tags: ["usage"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({ from: day.optional(), to: day.optional() }),
        response: {
          200: z.object({
            commands: z.array(z.object({ name: z.string(), count: z.number() })),
            skills: z.array(z.object({ name: z.string(), count: z.number() })),
            errors: z.array(z.object({ at: z.number(), code: z.string() })),
          }),
          403: errorSchema,
        },
      },
      handler: async ({ principal, query }) => {
        if (principal === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
        o.access.requireOwner(principal);
        const to = query.to ?? dayOf(o.clock.now());
        const from = query.from ?? dayOf(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS);
        const num = (v: unknown) => Number(v ?? 0);
        const top = (kind: "command" | "skill") =>
          o.sql.query<{ name: string; n: unknown }>(
            `SELECT name, sum(count) AS n FROM activity_daily
             WHERE kind = $1 AND day >= $2 AND day <= $3 GROUP BY name ORDER BY n DESC, name LIMIT 10`,
            [kind, from, to],
          );
        const [commands, skills] = [await top("command"), await top("skill")];
        const errors = await o.sql.query<{ at: unknown; code: string }>(
          "SELECT at, code FROM activity_errors WHERE at >= $1 AND at < $2 ORDER BY at DESC LIMIT 20",
          [Date.parse(`${from}T00:00:00Z`), Date.parse(`${to}T00:00:00Z`) + DAY_MS],
        );
        return {
          status: 200,
          body: {
            commands: commands.rows.map((r) => ({ name: r.name, count: num(r.n) })),
            skills: skills.rows.map((r) => ({ name: r.name, count: num(r.n) })),
            errors: errors.rows.map((r) => ({ at: num(r.at), code: r.code })),
          },
        };
      },
    }),
  ];
}
