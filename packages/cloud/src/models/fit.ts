import type { AnomalyModel } from '@fogline/protocol'
import type { EventRow, SummaryRow } from '../store/index.js'

/** The model kind the cloud trains: its parameters can be fitted and judged from summaries alone. */
export type GaussianModel = Extract<AnomalyModel, { kind: 'gaussian' }>

/** One sensor's window as a summary tells it: count, mean, population variance, extremes. */
export interface Win {
  sensorId: string
  start: number
  end: number
  n: number
  mean: number
  v: number
  min: number
  max: number
}

/** a summary's population variance, from its `variance` or `stddev` aggregate */
export const variance = (r: SummaryRow): number | undefined =>
  r.aggs?.variance ?? (r.aggs?.stddev !== undefined ? r.aggs.stddev ** 2 : undefined)

/** k never below this: z = 4 is already 1 in 16,000 readings of a Gaussian */
const K_MIN = 4
/** a clean window's extreme may reach this quantile of the training windows' extremes ... */
const K_QUANTILE = 0.99
/** ... times this margin before it scores 0.5 (the held-back data is not the training data) */
const K_MARGIN = 1.2
/** a window whose mean or spread is this many typical spreads off the sensor's usual is not "normal" */
const TRIM = 3

/**
 * The windows of the summaries that can train a model: those with a spread aggregate (`stddev` or
 * `variance`), outside every anomaly event of their sensor, and not themselves a level shift or a burst
 * (mean or spread more than 3 typical spreads off the sensor's median; robust, so the anomalies of the
 * training period are not learned as normal). `dropped` counts the rest.
 */
export function cleanWindows(
  rows: readonly SummaryRow[],
  events: readonly EventRow[],
): { wins: Win[]; dropped: number } {
  const flagged = new Map<string, number[]>()
  for (const e of events) if (e.kind === 'anomaly') push(flagged, e.sensorId, e.ts)
  const bySensor = new Map<string, Win[]>()
  let dropped = 0
  for (const r of rows) {
    const v = variance(r)
    const hit = flagged.get(r.sensorId)?.some((t) => t >= r.start && t <= r.end)
    if (v === undefined || r.count <= 0 || hit) {
      dropped++
      continue
    }
    const w = {
      sensorId: r.sensorId,
      start: r.start,
      end: r.end,
      n: r.count,
      mean: r.mean,
      v,
      min: r.min,
      max: r.max,
    }
    push(bySensor, r.sensorId, w)
  }
  const wins: Win[] = []
  for (const list of bySensor.values()) {
    const mid = median(list.map((w) => w.mean))
    const sd = median(list.map((w) => Math.sqrt(w.v)))
    for (const w of list) {
      const odd = Math.abs(w.mean - mid) > TRIM * sd || Math.sqrt(w.v) > TRIM * sd
      if (odd && sd > 0) dropped++
      else wins.push(w)
    }
  }
  return { wins: wins.sort((a, b) => a.start - b.start), dropped }
}

/**
 * Fit a `gaussian` model from clean windows: exact pooled mean and std per sensor (as if every reading had
 * been kept) and for the whole class (`mean`/`std`: what a sensor the model has not seen starts from), and
 * k from the windows' own extremes (the 99th percentile of max |z| per window, × 1.2, at least 4), so a
 * clean window rarely raises an event.
 */
export function fitClass(
  wins: readonly Win[],
  meta: { version: number; trainedAt: number },
): GaussianModel | null {
  if (wins.length === 0) return null
  const by = new Map<string, Win[]>()
  for (const w of wins) push(by, w.sensorId, w)
  const sensors: GaussianModel['sensors'] = {}
  for (const [id, list] of [...by].sort(([a], [b]) => a.localeCompare(b))) sensors[id] = pooled(list)
  const all = pooled(wins)
  const extremes = wins.map((w) => {
    const p = sensors[w.sensorId]!
    return Math.max(Math.abs(w.max - p.mean), Math.abs(w.min - p.mean)) / p.std
  })
  const k = Math.max(K_MIN, K_MARGIN * quantile(extremes, K_QUANTILE))
  return {
    kind: 'gaussian',
    ...all,
    sensors,
    k: round(k),
    version: meta.version,
    trainedAt: meta.trainedAt,
    threshold: 0.5,
    note: `trained on ${wins.length} windows of ${by.size} sensors`,
  }
}

/** How a model does on held-back windows: mean negative log-likelihood per reading, and windows it would flag. */
export interface Judgement {
  /** nats per reading (lower is better); null when the model cannot be judged from summaries */
  nll: number | null
  /** share of the held-back (clean) windows whose extreme reading would raise an event */
  flagRate: number | null
  windows: number
}

/**
 * Judge a model on held-back windows. Only `gaussian` has a likelihood that summaries can compute exactly
 * (Σ over a window = n·log(2πσ²)/2 + (n·var + n·(mean − μ)²)/(2σ²)); `context` and `ewma` learn on the
 * node, so they are not judged (nll null) and any candidate that passes the flag-rate check replaces them.
 */
export function judge(m: AnomalyModel | undefined, wins: readonly Win[]): Judgement {
  if (m?.kind !== 'gaussian') return { nll: null, flagRate: null, windows: wins.length }
  let nll = 0
  let n = 0
  let flagged = 0
  let judged = 0
  for (const w of wins) {
    const p = m.sensors[w.sensorId] ?? (m.std !== undefined && m.mean !== undefined ? m : undefined)
    if (p?.std === undefined || p.mean === undefined) continue
    const s2 = p.std * p.std
    nll += (w.n * Math.log(2 * Math.PI * s2)) / 2 + (w.n * w.v + w.n * (w.mean - p.mean) ** 2) / (2 * s2)
    n += w.n
    judged++
    if (Math.max(Math.abs(w.max - p.mean), Math.abs(w.min - p.mean)) / p.std >= m.k) flagged++
  }
  if (n === 0) return { nll: null, flagRate: null, windows: 0 }
  return { nll: round(nll / n), flagRate: round(flagged / judged), windows: judged }
}

/** a candidate must beat the current model by this much (nats per reading) to replace it */
export const MIN_GAIN = 0.01
/** and flag at most this share of clean held-back windows */
export const MAX_FLAG_RATE = 0.02

/** Whether a candidate replaces the current model, and why (in words a person reads in the result). */
export function better(candidate: Judgement, current: Judgement): { ok: boolean; reason: string } {
  if (candidate.nll === null || candidate.flagRate === null)
    return { ok: false, reason: 'no held-back data to judge the candidate on' }
  if (candidate.flagRate > MAX_FLAG_RATE)
    return {
      ok: false,
      reason: `candidate flags ${candidate.flagRate} of clean held-back windows (> ${MAX_FLAG_RATE})`,
    }
  if (current.nll === null)
    return {
      ok: true,
      reason: 'the current model cannot be judged from summaries (none, or learned on the node)',
    }
  if (candidate.nll < current.nll - MIN_GAIN)
    return { ok: true, reason: `held-back NLL ${candidate.nll} < current ${current.nll}` }
  return {
    ok: false,
    reason: `held-back NLL ${candidate.nll} does not beat current ${current.nll} by ${MIN_GAIN}`,
  }
}

/**
 * Exact pooled mean and std of windows' readings, as if every reading had been kept: the total sum of squares
 * is the within-window part (n × the window's population variance) plus the between-window part.
 */
export function pool(list: readonly { n: number; mean: number; v: number }[]): { mean: number; std: number } {
  let n = 0
  let sum = 0
  for (const w of list) {
    n += w.n
    sum += w.mean * w.n
  }
  const mean = sum / n
  let ss = 0
  for (const w of list) ss += w.n * w.v + w.n * (w.mean - mean) ** 2
  return { mean, std: Math.sqrt(ss / n) }
}

const pooled = (list: readonly Win[]) => {
  const p = pool(list)
  return { mean: round(p.mean), std: round(Math.max(p.std, 1e-9)) }
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const l = m.get(k)
  if (l) l.push(v)
  else m.set(k, [v])
}

function median(xs: number[]): number {
  return quantile(xs, 0.5)
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
}

const round = (v: number) => Number(v.toPrecision(8))
