import type { Reading } from '@fogline/protocol'
import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import type { StageDef } from '../types.js'

export const ValidateConfig = z
  .strictObject({
    type: z.literal('validate'),
    /** inclusive range of the value */
    min: z.number().optional(),
    max: z.number().optional(),
    integer: z.boolean().default(false),
    /** fields (decoder `fields`) that must be present */
    required: z.array(z.string()).default([]),
    /** types of fields: name → number | string | boolean */
    fieldTypes: z.record(z.string(), z.enum(['number', 'string', 'boolean'])).default({}),
    /** readings with a ts further ahead of arrival time than this are refused (clock gone wrong) */
    maxFuture: Duration.optional(),
    /** readings with a ts older than this at arrival are refused */
    maxAge: Duration.optional(),
  })
  .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, {
    message: 'min must be ≤ max',
    path: ['min'],
  })
export type ValidateConfig = z.output<typeof ValidateConfig>

/** Refuses out-of-range or incomplete readings: each becomes a dead letter (FOG_READING_INVALID) with its reason. */
export const validate: StageDef<ValidateConfig> = {
  name: 'validate',
  schema: ValidateConfig,
  create(c, ctx) {
    const min = c.min ?? Number.NEGATIVE_INFINITY
    const max = c.max ?? Number.POSITIVE_INFINITY
    const types = Object.entries(c.fieldTypes)
    // the rarely used checks are skipped as a whole on the hot path
    const more =
      c.integer ||
      c.required.length > 0 ||
      types.length > 0 ||
      c.maxFuture !== undefined ||
      c.maxAge !== undefined
    const check = (r: Reading): string | undefined => {
      if (r.value < min || r.value > max)
        return `value ${r.value} is outside [${c.min ?? '-∞'}, ${c.max ?? '∞'}]`
      if (!more) return undefined
      if (c.integer && !Number.isInteger(r.value)) return `value ${r.value} is not an integer`
      for (const f of c.required) if (r.fields?.[f] === undefined) return `field "${f}" is missing`
      for (const [f, t] of types) {
        const v = r.fields?.[f]
        if (v !== undefined && typeof v !== t) return `field "${f}" is ${typeof v}, not ${t}`
      }
      if (c.maxFuture !== undefined && r.ts - ctx.now() > c.maxFuture)
        return `ts is ${r.ts - ctx.now()} ms in the future`
      if (c.maxAge !== undefined && ctx.now() - r.ts > c.maxAge) return `ts is ${ctx.now() - r.ts} ms old`
      return undefined
    }
    return {
      process(r) {
        const why = check(r)
        if (why === undefined) return r
        ctx.deadLetter('FOG_READING_INVALID', why)
        return undefined
      },
    }
  },
}
