import { z } from 'zod'
import { Duration, Id } from './common.js'

/**
 * Pipeline definitions as they appear in YAML. Stage bodies are validated by the stage registry
 * in @fogline/pipeline (each stage owns its schema); here only their envelope is checked.
 */
export const DecoderConfig = z.strictObject({
  type: z.enum(['json', 'text', 'msgpack']).default('json'),
  /** field path of the value in an object payload, e.g. $.value; a bare JSON number needs none */
  value: z.string().default('$.value'),
  ts: z.string().optional(),
  /** where the sensor id comes from: topic[1] (segment index) or a payload path */
  sensorId: z.string().default('topic[1]'),
  metric: z.string().default('topic[2]'),
})

export const StageConfig = z.looseObject({ type: z.string() })

export const OutputConfig = z.strictObject({
  stream: z.enum(['summary', 'event', 'raw']).default('summary'),
  priority: z.number().int().min(0).max(9).optional(),
})

export const PipelineConfig = z.strictObject({
  id: Id,
  input: z.array(z.string().min(1)).min(1),
  decoder: DecoderConfig.default({ type: 'json', value: '$.value', sensorId: 'topic[1]', metric: 'topic[2]' }),
  stages: z.array(StageConfig).default([]),
  output: OutputConfig.default({ stream: 'summary' }),
})
export type PipelineConfig = z.output<typeof PipelineConfig>

export const PipelinesConfig = z.array(PipelineConfig)
export const CheckpointConfig = z.strictObject({ interval: Duration.prefault('5s') })
