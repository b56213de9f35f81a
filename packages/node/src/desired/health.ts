/** The part of @fogline/pipeline's PipelineCounters the probe reads. */
export interface PipelineCountersLike {
  readingsIn: number
  malformed: number
  outputs: number
  deadLetters: number
  stages: Record<string, { errors: number }>
}

export interface EngineHealthOptions {
  /** readings a pipeline needs since the change before its dead-letter share is judged (default 20) */
  minReadings?: number
  /** how far the dead-letter share may rise above the previous version's before it fails (default 0.1) */
  deadLetterRise?: number
  /** true while the node is connected to its cloud; when given, losing the link in the window fails it */
  connected?: (() => boolean) | undefined
  /** ms clock for rates (the agent's injected clock) */
  now: () => number
}

/** A health probe: beforeChange (old version's rates) → reset (new base) → check(final)* per health window. */
export interface HealthProbe {
  /** take the running version's rates as the baseline; called just before a new document is applied */
  beforeChange(): void
  /** start the window: counters from here on belong to the new version */
  reset(): void
  /** every failed check with its reason; `final` at the window's end, when "no input" can be judged */
  check(final: boolean): { ok: boolean; reason?: string }
}

interface Totals {
  readings: number
  outputs: number
  dead: number
  malformed: number
}

/**
 * Canary health over the engine's counters. A new pipeline set is healthy only if, within the window:
 * every pipeline that had input under the previous version still gets input; outputs come at (at least half)
 * the previous rate; the dead-letter share does not rise above the previous one (plus `deadLetterRise`);
 * and the node stays connected. Each failed check is reported with its reason. A pipeline that is new has
 * no previous rates: only its dead letters are judged. A few bad readings are not a failure; readings a
 * filter drops are not errors at all.
 * @example const probe = engineHealth(() => engine.counters(), { now: clock.now, connected: () => uplink.stats().connected })
 */
export function engineHealth(
  counters: () => Record<string, PipelineCountersLike>,
  opts: EngineHealthOptions,
): HealthProbe {
  const minReadings = opts.minReadings ?? 20
  const rise = opts.deadLetterRise ?? 0.1
  let base = totals(counters())
  let baseAt = opts.now()
  let prev = new Map<string, Totals & { ms: number }>()
  let linkedAtStart = true
  const since = (id: string, now: Totals): Totals => {
    const was = base.get(id) ?? { readings: 0, outputs: 0, dead: 0, malformed: 0 }
    return {
      readings: now.readings - was.readings,
      outputs: now.outputs - was.outputs,
      dead: now.dead - was.dead,
      malformed: now.malformed - was.malformed,
    }
  }
  return {
    beforeChange() {
      const ms = opts.now() - baseAt
      prev = new Map([...totals(counters())].map(([id, t]) => [id, { ...since(id, t), ms }]))
    },
    reset() {
      base = totals(counters())
      baseAt = opts.now()
      linkedAtStart = opts.connected?.() ?? true
    },
    check(final) {
      const elapsed = opts.now() - baseAt
      const failures: string[] = []
      for (const [id, t] of totals(counters())) {
        const d = since(id, t)
        const p = prev.get(id)
        const was = p && p.readings > 0 ? p.dead / p.readings : 0
        if (d.readings >= minReadings && d.dead / d.readings > was + rise)
          failures.push(
            `pipeline ${id} dead-lettered ${d.dead} of ${d.readings} readings since the change (${d.malformed} malformed; ${pct(was)} before)`,
          )
        if (!final || !p) continue
        if (p.readings > 0 && d.readings === 0)
          failures.push(
            `pipeline ${id} got no input in the health window (it had ${p.readings} readings in the ${sec(p.ms)} before the change)`,
          )
        const expected = p.ms > 0 ? (p.outputs / p.ms) * elapsed : 0
        if (expected >= 3 && d.outputs < expected / 2)
          failures.push(
            `pipeline ${id} made ${d.outputs} outputs in ${sec(elapsed)}, expected about ${Math.round(expected)} at its earlier rate`,
          )
      }
      if (final && linkedAtStart && opts.connected && !opts.connected())
        failures.push('the node lost its cloud connection during the health window')
      return failures.length ? { ok: false, reason: failures.join('; ') } : { ok: true }
    },
  }
}

const pct = (r: number) => `${Math.round(r * 100)}%`
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`

function totals(c: Record<string, PipelineCountersLike>): Map<string, Totals> {
  const m = new Map<string, Totals>()
  for (const [id, p] of Object.entries(c))
    m.set(id, { readings: p.readingsIn, outputs: p.outputs, dead: p.deadLetters, malformed: p.malformed })
  return m
}
