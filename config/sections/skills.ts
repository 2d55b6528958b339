/** skills settings (owned by the skills module; see its README). */
import { z } from "zod";

export const skillsSection = z.object({
}).strict().default({});
