/** The part of @fogline/pipeline's PipelineCounters the probe reads. */
export interface PipelineCountersLike {
  readingsIn: number
  malformed: number
  deadLetters: number
  stages: Record<string, { errors: number }>
}

export interface EngineHealthOptions {
  /** readings a pipeline needs since the change before it is judged (default 20) */
  minReadings?: number
  /** share of those readings dead-lettered (malformed included) that counts as failing (default 0.9) */
  maxBadRatio?: number
}

/**
 * A health probe over the engine's counters for the desired-state agent. Since the last reset, a pipeline
 * that dead-letters (or cannot decode) almost every reading it gets is failing. A few bad readings are
 * not: they are dead-lettered and the pipeline goes on; readings a filter drops are not errors at all.
 * @example const probe = engineHealth(() => engine.counters()); createDesiredAgent({ ..., health: probe.check, healthReset: probe.reset })
 */
export function engineHealth(
  counters: () => Record<string, PipelineCountersLike>,
  opts: EngineHealthOptions = {},
): { reset(): void; check(): { ok: boolean; reason?: string } } {
  const minReadings = opts.minReadings ?? 20
  const maxBadRatio = opts.maxBadRatio ?? 0.9
  let base = snapshot(counters())
  return {
    reset() {
      base = snapshot(counters())
    },
    check() {
      for (const [id, now] of snapshot(counters())) {
        const was = base.get(id) ?? { readingsIn: 0, deadLetters: 0, malformed: 0 }
        const readings = now.readingsIn - was.readingsIn
        const bad = now.deadLetters - was.deadLetters
        if (readings >= minReadings && bad >= readings * maxBadRatio) {
          const malformed = now.malformed - was.malformed
          return {
            ok: false,
            reason: `pipeline ${id} dead-lettered ${bad} of ${readings} readings since the change (${malformed} malformed)`,
          }
        }
      }
      return { ok: true }
    },
  }
}

function snapshot(c: Record<string, PipelineCountersLike>) {
  const m = new Map<string, { readingsIn: number; deadLetters: number; malformed: number }>()
  for (const [id, p] of Object.entries(c))
    m.set(id, { readingsIn: p.readingsIn, deadLetters: p.deadLetters, malformed: p.malformed })
  return m
}
