import { z } from 'zod'
import { Duration, Id } from './common.js'

/**
 * Pipeline definitions as they appear in YAML. Stage bodies are validated by the stage registry
 * in @fogline/pipeline (each stage owns its schema); here only their envelope is checked.
 * Every schema here accepts its own output, so validating an already validated config is a no-op.
 */
export const DecoderConfig = z.strictObject({
  type: z.enum(['json', 'text', 'msgpack']).default('json'),
  /** field path of the value in an object payload, e.g. $.value; a bare number payload needs none */
  value: z.string().default('$.value'),
  /** field path of the event time (epoch ms or ISO string); absent: arrival time */
  ts: z.string().optional(),
  /** where the sensor id comes from: topic[1] (segment index) or a payload path like $.id */
  sensorId: z.string().default('topic[1]'),
  metric: z.string().default('topic[2]'),
  /** extra payload fields to keep on the reading: name → field path, e.g. { unit: '$.unit' } */
  fields: z.record(z.string(), z.string()).optional(),
})
export type DecoderConfig = z.output<typeof DecoderConfig>

export const StageConfig = z.looseObject({ type: z.string() })

export const OutputConfig = z.strictObject({
  stream: z.enum(['summary', 'event', 'raw']).default('summary'),
  /** 0-9, lower drains first and is dropped last; default STREAM_PRIORITY of the stream */
  priority: z.number().int().min(0).max(9).optional(),
})
export type OutputConfig = z.output<typeof OutputConfig>

export const PipelineConfig = z.strictObject({
  id: Id,
  input: z.array(z.string().min(1)).min(1),
  decoder: DecoderConfig.default({
    type: 'json',
    value: '$.value',
    sensorId: 'topic[1]',
    metric: 'topic[2]',
  }),
  stages: z.array(StageConfig).default([]),
  /**
   * One output or a list of them (one per stream). Window stages emit on `summary`, threshold stages on
   * `event`; readings that leave the last stage go to `raw` only when a raw output is listed.
   * Absent: the streams the stages emit on (or `raw` when none emits).
   */
  output: z.union([OutputConfig, z.array(OutputConfig).min(1)]).optional(),
})
export type PipelineConfig = z.output<typeof PipelineConfig>

export const PipelinesConfig = z.array(PipelineConfig)
export type PipelinesConfig = z.output<typeof PipelinesConfig>
/** How often the node saves window state (with the outbox, in one transaction) besides at each window close. */
export const CheckpointConfig = z.strictObject({ interval: Duration.prefault('5s') })
export type CheckpointConfig = z.output<typeof CheckpointConfig>
