import { z } from 'zod'
import { checkExpr, compileExpr } from '../expr.js'
import type { StageDef } from '../types.js'
import { unitConversion } from '../units.js'

const Expr = z.string().min(1).superRefine(checkExpr)

export const MapConfig = z
  .strictObject({
    type: z.literal('map'),
    /** unit conversion, applied first, e.g. { from: '°F', to: '°C' } */
    convert: z.strictObject({ from: z.string(), to: z.string() }).optional(),
    /** value * scale + offset, applied after convert */
    scale: z.number().default(1),
    offset: z.number().default(0),
    /** a new value computed from the reading, e.g. `sqrt(value)` */
    value: Expr.optional(),
    /** fields computed from the reading: name → expression */
    fields: z.record(z.string(), Expr).default({}),
    /** new sensorId / metric names */
    rename: z
      .strictObject({ sensorId: z.string().min(1).optional(), metric: z.string().min(1).optional() })
      .default({}),
  })
  .superRefine((c, ctx) => {
    if (!c.convert) return
    const u = unitConversion(c.convert.from, c.convert.to)
    if (typeof u === 'string') ctx.addIssue({ code: 'custom', path: ['convert'], message: u })
  })
export type MapConfig = z.output<typeof MapConfig>

/** Transforms a reading in place: unit conversion, scale/offset, computed value and fields, rename. */
export const map: StageDef<MapConfig> = {
  name: 'map',
  schema: MapConfig,
  create(c, ctx) {
    // fold conversion and scale/offset into one multiply-add
    const u = c.convert
      ? (unitConversion(c.convert.from, c.convert.to) as { scale: number; offset: number })
      : { scale: 1, offset: 0 }
    const scale = u.scale * c.scale
    const offset = u.offset * c.scale + c.offset
    const value = c.value !== undefined ? compileExpr(c.value) : undefined
    const fields = Object.entries(c.fields).map(([k, e]) => [k, compileExpr(e)] as const)
    const { sensorId, metric } = c.rename
    return {
      process(r) {
        r.value = r.value * scale + offset
        if (value) {
          const v = value(r)
          if (typeof v !== 'number' || !Number.isFinite(v)) {
            ctx.deadLetter(
              'FOG_READING_INVALID',
              `map value expression gave ${String(v)}, not a finite number`,
            )
            return undefined
          }
          r.value = v
        }
        if (fields.length > 0) {
          const f = r.fields ?? (r.fields = {})
          for (const [k, e] of fields) f[k] = e(r)
        }
        if (sensorId !== undefined) r.sensorId = sensorId
        if (metric !== undefined) r.metric = metric
        return r
      },
    }
  },
}
