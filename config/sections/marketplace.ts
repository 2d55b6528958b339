/** marketplace settings (owned by the marketplace module; see its README). */
import { z } from "zod";

export const marketplaceSection = z.object({
}).strict().default({});
