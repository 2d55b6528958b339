/** schedules settings (owned by the schedules module; see schedules/README.md). */
import { z } from "zod";

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export const schedulesSection = z
  .object({
    /** Run schedules in this process. Off: schedules can still be listed and edited, but nothing fires here. */
    enabled: z.boolean().default(true),
    /** Zone for chats that set none (`/schedule tz`). Unset: the host's zone. Shown with every time. */
    defaultTimeZone: z
      .string()
      .refine(isTimeZone, "not a time zone known to Intl (use an IANA name such as Europe/Berlin)")
      .optional(),
    /** Schedules that would fire more often than this are refused, in ms (default 1 minute). */
    minIntervalMs: z.number().int().min(1_000).default(60_000),
    /** Most schedules (active or paused) one chat may hold. */
    maxPerChat: z.number().int().positive().default(50),
    /** Most schedules one skill may hold in one chat (the `schedule` capability). */
    maxPerChatPerSkill: z.number().int().positive().default(10),
    /** Fires missed while no process ran: `skip` them (recorded as missed) or run `once` to catch up. */
    missedRunDefault: z.enum(["skip", "once"]).default("skip"),
    /** How often a process looks for schedules added or changed by other processes, in ms. */
    pollIntervalMs: z.number().int().min(100).default(5_000),
  })
  .strict()
  .default({
    enabled: true,
    minIntervalMs: 60_000,
    maxPerChat: 50,
    maxPerChatPerSkill: 10,
    missedRunDefault: "skip",
    pollIntervalMs: 5_000,
  });
