import type { FogEvent } from '@fogline/protocol'
import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { perSensorStage } from './per-sensor.js'

export const ThresholdConfig = z
  .strictObject({
    type: z.literal('threshold'),
    /** event name, e.g. too-warm */
    name: z.string().min(1),
    /** alarm while value > above */
    above: z.number().optional(),
    /** alarm while value < below */
    below: z.number().optional(),
    /** the alarm leaves only once the value is this far back inside (no flapping around the limit) */
    hysteresis: z.number().nonnegative().default(0),
    /** a change must hold this long (by reading time) before it is reported */
    hold: Duration.default(0),
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  })
  .refine((c) => c.above !== undefined || c.below !== undefined, {
    message: 'a threshold needs above or below',
  })
  .refine((c) => c.above === undefined || c.below === undefined || c.below + 2 * c.hysteresis <= c.above, {
    message: 'below + 2 × hysteresis must be ≤ above',
    path: ['below'],
  })
export type ThresholdConfig = z.output<typeof ThresholdConfig>

interface Alarm {
  key: string[]
  active: boolean
  /** ts since which the reading asks for a change, or -1 */
  since: number
}

/**
 * Emits one `enter` FogEvent when a sensor's value crosses a limit (and stays there for `hold`) and one `leave`
 * when it is back inside by the hysteresis (for `hold`) — not one event per reading. Passes readings on.
 */
export const threshold = perSensorStage({
  name: 'threshold',
  schema: ThresholdConfig,
  emits: ['event'],
  first: 'step',
  create(c, ctx) {
    const above = c.above ?? Number.POSITIVE_INFINITY
    const below = c.below ?? Number.NEGATIVE_INFINITY
    const h = c.hysteresis
    return {
      open: (key): Alarm => ({ key, active: false, since: -1 }),
      step(s, r) {
        const v = r.value
        const change = s.active ? v <= above - h && v >= below + h : v > above || v < below
        if (!change) {
          s.since = -1
          return r
        }
        if (s.since < 0) s.since = r.ts
        if (r.ts - s.since >= c.hold) {
          s.active = !s.active
          const detail: Record<string, unknown> = { since: s.since, hysteresis: h }
          if (c.above !== undefined) detail.above = c.above
          if (c.below !== undefined) detail.below = c.below
          const e: FogEvent = {
            pipelineId: ctx.pipelineId,
            sensorId: r.sensorId,
            metric: r.metric,
            ts: r.ts,
            kind: s.active ? 'enter' : 'leave',
            name: c.name,
            value: v,
            severity: c.severity,
            detail,
          }
          ctx.emit('event', r.ts, e)
          s.since = -1
        }
        return r
      },
      save: (s): [string[], number, number] => [s.key, s.active ? 1 : 0, s.since],
      load: ([key, active, since]) => ({ key, active: active === 1, since }),
    }
  },
})
