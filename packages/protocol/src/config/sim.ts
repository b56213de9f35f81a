import { z } from 'zod'
import { Duration, Id } from './common.js'

/** A scheduled anomaly, relative to the simulator's start. */
export const SimAnomaly = z.strictObject({
  /** spike: +magnitude for the window; level: +magnitude (level shift); stuck: value frozen; drift: ramps 0 → magnitude */
  kind: z.enum(['spike', 'level', 'stuck', 'drift']),
  at: Duration,
  duration: Duration.prefault(0),
  magnitude: z.number().default(10),
})
export type SimAnomaly = z.output<typeof SimAnomaly>

/** A period of silence (no readings), relative to the simulator's start. */
export const SimDropout = z.strictObject({ at: Duration, duration: Duration })

/** Simulated sensors publishing to a broker. */
export const SimConfig = z.strictObject({
  url: z.string().url(),
  seed: z.number().int().default(1),
  /** QoS of sensor readings (0 by default; 1 if a test needs broker acks) */
  qos: z.union([z.literal(0), z.literal(1)]).default(0),
  /** scheduler tick: readings due within a tick are published together */
  tick: Duration.prefault('10ms'),
  /** JSON lines of injected anomalies and dropouts (absolute epoch ms), for scoring detection */
  groundTruth: z.string().optional(),
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
        /** value shape: constant (base + noise), temperature (daily cycle), vibration (bursts), humidity, co2, power, gps */
        profile: z
          .enum(['constant', 'temperature', 'vibration', 'humidity', 'co2', 'power', 'gps'])
          .default('constant'),
        /** amplitude of the profile's cycle / bursts / load steps */
        amplitude: z.number().nonnegative().default(5),
        /** cycle period for temperature / humidity / co2 */
        period: Duration.prefault('1d'),
        /** added per second since start */
        drift: z.number().default(0),
        anomalies: z.array(SimAnomaly).default([]),
        dropouts: z.array(SimDropout).default([]),
        /** replay a `timestamp,value` CSV (e.g. a NAB series) instead of a profile; labelled windows become ground truth */
        replay: z
          .strictObject({
            file: z.string(),
            /** NAB combined_windows.json; the series' key defaults to the file's last two path segments */
            labels: z.string().optional(),
            key: z.string().optional(),
            /** start again at the first row when the series ends (otherwise the sensor falls silent) */
            loop: z.boolean().default(false),
          })
          .optional(),
      }),
    )
    .min(1),
})
export type SimConfig = z.output<typeof SimConfig>
export type SimConfigInput = z.input<typeof SimConfig>
