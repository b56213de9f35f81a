import { z } from 'zod'
import { checkExpr, compileExpr } from '../expr.js'
import type { StageDef } from '../types.js'

export const FilterConfig = z.strictObject({
  type: z.literal('filter'),
  /** keep readings for which this is truthy, e.g. `value > 0 && metric != "debug"` (see docs/pipeline.md) */
  expr: z.string().min(1).superRefine(checkExpr),
})
export type FilterConfig = z.output<typeof FilterConfig>

/** Keeps readings for which the expression is truthy; dropping is not an error. */
export const filter: StageDef<FilterConfig> = {
  name: 'filter',
  schema: FilterConfig,
  create(c) {
    const test = compileExpr(c.expr)
    return { process: (r) => (test(r) ? r : undefined) }
  },
}
