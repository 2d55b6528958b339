/** llm settings (owned by the llm module; see its README). */
import { z } from "zod";

export const llmSection = z.object({
}).strict().default({});
