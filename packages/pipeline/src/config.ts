import {
  type DataStream,
  type ErrorCode,
  FoglineError,
  formatPath,
  type OutputConfig,
  PipelinesConfig,
  STREAM_PRIORITY,
} from '@fogline/protocol'
import { checkDecoder } from './decode.js'
import { stageRegistry } from './stages/index.js'
import type { PipelineConfig } from './types.js'

export interface Where {
  file?: string
}

function fail(
  code: ErrorCode,
  message: string,
  where: Where,
  field: string,
  pipeline?: string,
  cause?: unknown,
): never {
  throw new FoglineError(
    code,
    message,
    { ...(where.file ? { file: where.file } : {}), field, ...(pipeline ? { pipeline } : {}) },
    cause ? { cause } : undefined,
  )
}

/** The outputs of a validated pipeline, one per stream, with priorities resolved. */
export function resolveOutputs(p: PipelineConfig): Array<{ stream: DataStream; priority: number }> {
  return normalizeOutputs(p).map((o) => ({
    stream: o.stream,
    priority: o.priority ?? STREAM_PRIORITY[o.stream],
  }))
}

function normalizeOutputs(p: PipelineConfig): OutputConfig[] {
  if (p.output === undefined) {
    const streams = new Set<DataStream>()
    for (const s of p.stages) for (const e of stageRegistry.get(s.type)?.emits ?? []) streams.add(e)
    if (streams.size === 0) streams.add('raw')
    return [...streams].map((stream) => ({ stream }))
  }
  return Array.isArray(p.output) ? p.output : [p.output]
}

/**
 * Validate a pipeline list (as in YAML, or already validated): the envelope, then each stage against its own
 * schema. Errors are FoglineError FOG_CONFIG_INVALID / FOG_STAGE_UNKNOWN / FOG_EXPR_INVALID naming the file,
 * the pipeline id and the field path, e.g. `pipelines[1].stages[0].size`. The result is deeply frozen.
 * @example const pipelines = validatePipelines(yaml.pipelines, { file: 'configs/node.yaml' })
 */
export function validatePipelines(raw: unknown, where: Where = {}): PipelineConfig[] {
  const env = PipelinesConfig.safeParse(raw)
  if (!env.success) {
    const issue = env.error.issues[0]!
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path
    const idx = typeof path[0] === 'number' ? path[0] : undefined
    const id = idx !== undefined ? (raw as Array<{ id?: unknown }>)[idx]?.id : undefined
    const msg = issue.code === 'unrecognized_keys' ? `unknown key "${issue.keys[0]}"` : issue.message
    fail(
      'FOG_CONFIG_INVALID',
      msg,
      where,
      `pipelines${path.length ? formatPath(path) : ''}`,
      typeof id === 'string' ? id : undefined,
      env.error,
    )
  }
  const seen = new Set<string>()
  const out: PipelineConfig[] = []
  env.data.forEach((p, i) => {
    const at = `pipelines[${i}]`
    if (seen.has(p.id))
      fail('FOG_CONFIG_INVALID', `pipeline id "${p.id}" is used twice`, where, `${at}.id`, p.id)
    seen.add(p.id)
    for (const [f, m] of checkDecoder(p.decoder))
      fail('FOG_CONFIG_INVALID', m, where, `${at}.decoder.${f}`, p.id)
    const stages = p.stages.map((s, j) => {
      const sat = `${at}.stages[${j}]`
      const def = stageRegistry.get(s.type)
      if (!def)
        fail(
          'FOG_STAGE_UNKNOWN',
          `unknown stage type "${s.type}" (known: ${[...stageRegistry.keys()].join(', ')})`,
          where,
          `${sat}.type`,
          p.id,
        )
      const r = def.schema.safeParse(s)
      if (!r.success) {
        const issue = r.error.issues[0]!
        const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path
        const code = (issue as { params?: { fogCode?: ErrorCode } }).params?.fogCode ?? 'FOG_CONFIG_INVALID'
        const msg =
          issue.code === 'unrecognized_keys'
            ? `unknown key "${issue.keys[0]}" for a ${s.type} stage`
            : issue.message
        fail(code, msg, where, path.length ? `${sat}.${formatPath(path)}` : sat, p.id, r.error)
      }
      return r.data as { type: string }
    })
    const outputs = normalizeOutputs({ ...p, stages })
    const streams = new Set<string>()
    outputs.forEach((o, k) => {
      if (streams.has(o.stream))
        fail('FOG_CONFIG_INVALID', `stream "${o.stream}" is listed twice`, where, `${at}.output[${k}]`, p.id)
      streams.add(o.stream)
    })
    stages.forEach((s, j) => {
      for (const e of stageRegistry.get(s.type)?.emits ?? [])
        if (!streams.has(e))
          fail(
            'FOG_CONFIG_INVALID',
            `a ${s.type} stage emits on stream "${e}" but the pipeline's output has no ${e} stream (add { stream: ${e} } to output)`,
            where,
            `${at}.stages[${j}]`,
            p.id,
          )
    })
    out.push(deepFreeze({ ...p, stages }))
  })
  return out
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o)) deepFreeze(v)
  }
  return o
}

/** Canonical JSON (sorted keys) of a validated pipeline: equal strings mean an unchanged definition. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v)
}
