import { z } from 'zod'
import { Id } from './common.js'

/** Simulated sensors publishing to a broker. */
export const SimConfig = z.strictObject({
  url: z.string().url(),
  seed: z.number().int().default(1),
  sensors: z
    .array(
      z.strictObject({
        id: Id,
        /** how many sensors of this kind; ids become `${id}-${i}` when > 1 */
        count: z.number().int().positive().default(1),
        metric: z.string().default('temperature'),
        rate: z.number().positive().default(1),
        base: z.number().default(20),
        noise: z.number().nonnegative().default(0.5),
        topic: z.string().default('sensors/{id}/{metric}'),
        malformedRate: z.number().min(0).max(1).default(0),
      }),
    )
    .min(1),
})
export type SimConfig = z.output<typeof SimConfig>
