/**
 * Rolling up summaries under capacity pressure: summaries of the same (pipeline, sensor, metric)
 * whose windows fall in one coarser window (factor × their width) merge into one, exactly for
 * count/min/max/sum/mean. Aggregates that cannot be merged exactly (stddev, p95 ...) are dropped.
 */
export interface RollupInput {
  seq: number
  ts: number
  body: Record<string, unknown>
}

export interface RollupGroup {
  /** seqs of the merged members, ascending */
  seqs: number[]
  ts: number
  body: Record<string, unknown>
}

function mergeable(b: Record<string, unknown>): boolean {
  return (
    typeof b.start === 'number' &&
    typeof b.end === 'number' &&
    b.end > b.start &&
    typeof b.count === 'number' &&
    typeof b.sum === 'number' &&
    typeof b.min === 'number' &&
    typeof b.max === 'number'
  )
}

/** Group mergeable summaries; returns only groups of two or more. */
export function rollupSummaries(rows: readonly RollupInput[], factor: number): RollupGroup[] {
  const groups = new Map<string, RollupInput[]>()
  for (const r of rows) {
    const b = r.body
    if (!mergeable(b)) continue
    const width = (b.end as number) - (b.start as number)
    const coarse = width * factor
    const bucket = Math.floor((b.start as number) / coarse)
    const key = `${String(b.pipelineId)}\u0000${String(b.sensorId)}\u0000${String(b.metric)}\u0000${coarse}\u0000${bucket}`
    let g = groups.get(key)
    if (!g) groups.set(key, (g = []))
    g.push(r)
  }
  const out: RollupGroup[] = []
  for (const members of groups.values()) {
    if (members.length < 2) continue
    out.push(mergeGroup(members, factor))
  }
  return out
}

function mergeGroup(members: RollupInput[], factor: number): RollupGroup {
  const first = members[0]!.body
  const width = (first.end as number) - (first.start as number)
  const coarse = width * factor
  let count = 0
  let sum = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let windows = 0
  let ts = Number.POSITIVE_INFINITY
  let start = Number.POSITIVE_INFINITY
  let end = Number.NEGATIVE_INFINITY
  for (const m of members) {
    const b = m.body
    count += b.count as number
    sum += b.sum as number
    if ((b.count as number) > 0) {
      min = Math.min(min, b.min as number)
      max = Math.max(max, b.max as number)
    }
    start = Math.min(start, b.start as number)
    end = Math.max(end, b.end as number)
    windows += typeof b.rolledUp === 'number' ? b.rolledUp : 1
    ts = Math.min(ts, m.ts)
  }
  const bucketStart = Math.floor(start / coarse) * coarse
  const { aggs: _aggs, correction: _c, ...rest } = first
  const body: Record<string, unknown> = {
    ...rest,
    start: bucketStart,
    // members share one width and start inside the bucket, so the bucket covers them all
    end: Math.max(end, bucketStart + coarse),
    count,
    sum,
    min: count > 0 ? min : first.min,
    max: count > 0 ? max : first.max,
    mean: count > 0 ? sum / count : 0,
    rolledUp: windows,
    // also as an aggregate, which the cloud keeps with the row
    aggs: { rolledUp: windows },
  }
  return { seqs: members.map((m) => m.seq).sort((a, b) => a - b), ts, body }
}
