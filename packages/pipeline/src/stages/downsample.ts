import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { perSensorStage } from './per-sensor.js'

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

/** Passes at most one reading per interval, or every n-th one, per sensor and metric. */
export const downsample = perSensorStage({
  name: 'downsample',
  schema: DownsampleConfig,
  create(c) {
    const interval = c.interval
    const every = c.every ?? 1
    return {
      open: (key, r): Seen => ({ key, n: interval !== undefined ? r.ts : 0 }),
      step(s, r) {
        if (interval !== undefined) {
          if (r.ts - s.n < interval) return undefined
          s.n = r.ts
          return r
        }
        if (++s.n < every) return undefined
        s.n = 0
        return r
      },
      save: (s): [string[], number] => [s.key, s.n],
      load: ([key, n]) => ({ key, n }),
    }
  },
})
