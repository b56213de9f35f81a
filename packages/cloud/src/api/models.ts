import { pool, variance } from '../models/fit.js'
import type { SummaryRow } from '../store/index.js'

/** A `gaussian` anomaly model as the fog node's `anomaly` stage reads it (packages/pipeline/src/models.ts). */
export interface GaussianModel {
  kind: 'gaussian'
  k: number
  sensors: Record<string, { mean: number; std: number }>
  note: string
}

/**
 * Fit per-sensor mean and standard deviation from stored window summaries, exactly as if every reading had
 * been kept: the total sum of squares is the within-window part (count × the window's population variance,
 * from its `stddev` or `variance` aggregate) plus the between-window part (count × (window mean − mean)²).
 * Summaries without a spread aggregate cannot be pooled exactly and are skipped (and counted).
 * @example fitGaussian(await store.querySummaries({ metric: 'vibration' }), { k: 5 })
 */
export function fitGaussian(
  rows: readonly SummaryRow[],
  opts: { k: number; minStd?: number },
): { model: GaussianModel; used: number; skipped: number } {
  const by = new Map<string, SummaryRow[]>()
  let skipped = 0
  for (const r of rows) {
    const v = variance(r)
    if (v === undefined || r.count <= 0) {
      skipped++
      continue
    }
    const list = by.get(r.sensorId) ?? []
    list.push(r)
    by.set(r.sensorId, list)
  }
  const sensors: GaussianModel['sensors'] = {}
  let used = 0
  for (const [sensorId, list] of [...by].sort(([a], [b]) => a.localeCompare(b))) {
    const p = pool(list.map((r) => ({ n: r.count, mean: r.mean, v: variance(r) ?? 0 })))
    const mean = p.mean
    const std = Math.max(p.std, opts.minStd ?? 1e-9)
    sensors[sensorId] = { mean: round(mean), std: round(std) }
    used += list.length
  }
  const note = `fitted from ${used} summaries of ${by.size} sensors`
  return { model: { kind: 'gaussian', k: opts.k, sensors, note }, used, skipped }
}

const round = (v: number) => Number(v.toPrecision(10))
