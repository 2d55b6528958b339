/** schedules settings (owned by the schedules module; see its README). */
import { z } from "zod";

export const schedulesSection = z.object({
}).strict().default({});
