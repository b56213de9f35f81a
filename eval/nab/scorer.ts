/**
 * The NAB scorer (Numenta Anomaly Benchmark v1.x, the "sweeper" rules), as described in
 * ../shared/data/nab-dev/README.md: each file's first 15 % (at most 750 rows) is probationary and unscored;
 * inside a label window only the best (= earliest) detection counts, weighted by a scaled sigmoid of its
 * position; a window without a detection costs fnWeight; a detection outside every window costs fpWeight
 * scaled by its distance past the previous window; one threshold per profile is swept over the whole corpus;
 * the total is normalised as 100 × (S − S_null) / (S_perfect − S_null).
 * Lifecycle: sweepRows per file → sweepThresholds over all files → scoreAt per file → normalise.
 */

/** A profile's cost matrix (profiles.json `CostMatrix`). */
export interface CostMatrix {
  tpWeight: number
  fpWeight: number
  fnWeight: number
}

/** One scored row: its detector score, the sweep weight it earns if flagged, and its window (if any). */
export interface SweepRow {
  score: number
  /** weighted score if this row is a detection: positive in a window, ≤ 0 outside */
  weight: number
  /** `file|index` of the window the row is in; undefined outside windows; 'probationary' in probation */
  window: string | undefined
}

export const PROBATIONARY = 'probationary'

/** NAB's scaled sigmoid: ≈ 0.987 at a window's left edge (−1), 0 at its right edge, −1 from 3 widths past. */
export function scaledSigmoid(position: number): number {
  if (position >= 3) return -1
  return 2 / (1 + Math.exp(5 * position)) - 1
}

/** Rows NAB leaves unscored at the start of a file: min(floor(15 % of rows), 750). */
export function probationaryLength(rows: number, percent = 0.15): number {
  return Math.min(Math.floor(percent * rows), percent * 5000)
}

/** A label window as row indexes (inclusive), found from its timestamps. */
export interface WindowRows {
  start: number
  end: number
}

/**
 * The sweep weight of every row of one file (NAB `calcSweepScore`).
 * @example sweepRows('a.csv', scores, [{ start: 900, end: 1300 }], standard)
 */
export function sweepRows(file: string, scores: ArrayLike<number>, windows: WindowRows[], cost: CostMatrix) {
  const maxTP = scaledSigmoid(-1)
  const probation = probationaryLength(scores.length)
  const rows: SweepRow[] = []
  let w = 0
  let cur: WindowRows | undefined
  let prevRight: number | undefined
  let prevWidth = 0
  for (let i = 0; i < scores.length; i++) {
    if (cur === undefined && w < windows.length && windows[w]!.start === i) cur = windows[w++]
    let weight: number
    let name: string | undefined
    if (cur !== undefined) {
      const width = cur.end - cur.start + 1
      weight = (scaledSigmoid(-(cur.end - i + 1) / width) * cost.tpWeight) / maxTP
      name = `${file}|${cur.start}`
    } else {
      const past = prevRight === undefined ? 3 : Math.abs(prevRight - i) / (prevWidth - 1)
      weight = scaledSigmoid(past) * cost.fpWeight
    }
    rows.push({ score: scores[i]!, weight, window: i >= probation ? name : PROBATIONARY })
    if (cur !== undefined && i === cur.end) {
      prevRight = i
      prevWidth = cur.end - cur.start + 1
      cur = undefined
    }
  }
  return rows
}

/** The corpus score at one threshold (flag every row scoring ≥ threshold). */
export interface ThresholdScore {
  threshold: number
  score: number
  tp: number
  fp: number
}

/**
 * Every distinct threshold's score over the given rows, highest threshold first (NAB `calcScoreByThreshold`):
 * starts at 1.1 (nothing flagged, every window a miss) and lowers the threshold one distinct score at a time.
 */
export function sweepThresholds(rows: SweepRow[], cost: CostMatrix): ThresholdScore[] {
  const scorable = rows.filter((r) => r.window !== PROBATIONARY).sort((a, b) => b.score - a.score)
  const windowBest = new Map<string, number>()
  for (const r of scorable) if (r.window !== undefined) windowBest.set(r.window, -cost.fnWeight)
  let fpSum = 0
  let winSum = -cost.fnWeight * windowBest.size
  const out: ThresholdScore[] = []
  let threshold = 1.1
  let tp = 0
  let fp = 0
  for (const r of scorable) {
    if (r.score !== threshold) {
      out.push({ threshold, score: fpSum + winSum, tp, fp })
      threshold = r.score
    }
    if (r.window === undefined) {
      fp++
      fpSum += r.weight
    } else {
      tp++
      const best = windowBest.get(r.window)!
      if (r.weight > best) {
        winSum += r.weight - best
        windowBest.set(r.window, r.weight)
      }
    }
  }
  out.push({ threshold, score: fpSum + winSum, tp, fp })
  return out
}

/** The best threshold for a corpus (the first of the highest scores, as NAB's stable sort picks it). */
export function bestThreshold(rows: SweepRow[], cost: CostMatrix): ThresholdScore {
  let best: ThresholdScore | undefined
  for (const t of sweepThresholds(rows, cost)) if (best === undefined || t.score > best.score) best = t
  return best!
}

/** One file's score at a given threshold (NAB `scoreDataSet`: the row for that threshold or the next above). */
export function scoreAt(rows: SweepRow[], cost: CostMatrix, threshold: number): ThresholdScore {
  let prev: ThresholdScore | undefined
  for (const t of sweepThresholds(rows, cost)) {
    if (t.threshold === threshold) return t
    if (t.threshold < threshold) return prev ?? t
    prev = t
  }
  return prev!
}

/** Windows that count (at least one row after probation), for the null and perfect scores. */
export function countedWindows(rows: SweepRow[]): number {
  const s = new Set<string>()
  for (const r of rows) if (r.window !== undefined && r.window !== PROBATIONARY) s.add(r.window)
  return s.size
}

/** 100 × (S − S_null) / (S_perfect − S_null): null flags nothing, perfect flags each window's first row. */
export function normalise(score: number, windows: number, cost: CostMatrix): number {
  const nul = -cost.fnWeight * windows
  const perfect = cost.tpWeight * windows
  return (100 * (score - nul)) / (perfect - nul)
}
