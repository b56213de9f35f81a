import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { Keyed, SENSOR_KEY } from '../keyed.js'
import type { StageDef } from '../types.js'

export const DownsampleConfig = z
  .strictObject({
    type: z.literal('downsample'),
    /** pass at most one reading per interval (by reading time) per sensor and metric */
    interval: Duration.optional(),
    /** pass every n-th reading per sensor and metric (the 1st, n+1-th, …) */
    every: z.number().int().positive().optional(),
  })
  .refine((c) => (c.interval === undefined) !== (c.every === undefined), {
    message: 'a downsample needs exactly one of interval or every',
  })
export type DownsampleConfig = z.output<typeof DownsampleConfig>

interface Seen {
  key: string[]
  /** interval: ts of the last passed reading; every: readings since the last passed one */
  n: number
}

export const downsample: StageDef<DownsampleConfig> = {
  name: 'downsample',
  schema: DownsampleConfig,
  create(c) {
    const state = new Keyed<Seen>(SENSOR_KEY)
    const interval = c.interval
    const every = c.every ?? 1
    return {
      process(r) {
        const s = state.get(r)
        if (s === undefined) {
          state.add({ key: state.keyOf(r), n: interval !== undefined ? r.ts : 0 })
          return r
        }
        if (interval !== undefined) {
          if (r.ts - s.n < interval) return undefined
          s.n = r.ts
          return r
        }
        if (++s.n < every) return undefined
        s.n = 0
        return r
      },
      snapshot: () => [...state.all].map((s) => [s.key, s.n]),
      restore(st) {
        state.clear()
        for (const [key, n] of st as Array<[string[], number]>) state.add({ key, n })
      },
    }
  },
}
