import { FoglineError, type SimConfig } from '@fogline/protocol'
import { MALFORMED_KINDS, type MalformedKind, malformedPayload } from './malformed.js'
import { mulberry32, seedFor } from './prng.js'
import { makeProfile, type Profile } from './profiles.js'
import { loadReplay, type ReplaySeries } from './replay.js'

type SensorSpec = SimConfig['sensors'][number]

/** One line of the ground-truth file; start/end are epoch ms (end exclusive). */
export interface GroundTruth {
  sensor: string
  kind: 'spike' | 'level' | 'stuck' | 'drift' | 'dropout' | 'labelled'
  start: number
  end: number
  params: Record<string, number | string>
}

interface Window {
  kind: GroundTruth['kind']
  start: number
  end: number
  magnitude: number
}

/** A concrete simulated sensor: its schedule, PRNG and profile state. Lifecycle: create → next() per due reading. */
export class SimSensor {
  readonly id: string
  readonly topic: string
  readonly periodMs: number
  /** epoch ms of the next due reading */
  due: number
  published = 0
  private readonly rnd: () => number
  private readonly profile: Profile
  private readonly windows: Window[]
  private readonly spec: SensorSpec
  private readonly t0: number
  private stuckAt: number | undefined
  private readonly series: ReplaySeries | undefined
  private row = 0

  constructor(spec: SensorSpec, id: string, seed: number, t0: number, series?: ReplaySeries) {
    this.series = series
    this.spec = spec
    this.id = id
    this.t0 = t0
    this.topic = spec.topic.replaceAll('{id}', id).replaceAll('{metric}', spec.metric)
    this.periodMs = 1000 / spec.rate
    this.rnd = mulberry32(seedFor(seed, id))
    // spread first readings across one period so thousands of sensors do not fire in the same tick
    this.due = t0 + this.rnd() * this.periodMs
    this.profile = makeProfile(spec, this.rnd)
    this.windows = [
      ...spec.anomalies.map((a) => ({
        kind: a.kind,
        start: t0 + a.at,
        end: t0 + a.at + Math.max(a.duration, 1),
        magnitude: a.magnitude,
      })),
      ...spec.dropouts.map((d) => ({
        kind: 'dropout' as const,
        start: t0 + d.at,
        end: t0 + d.at + d.duration,
        magnitude: 0,
      })),
    ]
    // labelled windows of a replayed series land where their rows will be published (first pass only)
    this.labels = (series?.windows ?? []).map((w) => ({
      sensor: id,
      kind: 'labelled' as const,
      start: this.due + w.startRow * this.periodMs,
      end: this.due + w.endRow * this.periodMs,
      params: {
        source: series?.key ?? '',
        from: w.from,
        to: w.to,
        startRow: w.startRow,
        endRow: w.endRow,
        topic: this.topic,
      },
    }))
  }

  private readonly labels: GroundTruth[]

  groundTruth(): GroundTruth[] {
    return [...this.labels, ...this.windowTruth()]
  }

  private windowTruth(): GroundTruth[] {
    return this.windows.map((w) => ({
      sensor: this.id,
      kind: w.kind,
      start: w.start,
      end: w.end,
      params:
        w.kind === 'dropout'
          ? { topic: this.topic }
          : { magnitude: w.magnitude, topic: this.topic, metric: this.spec.metric },
    }))
  }

  /**
   * The payload for the reading due at `ts`, or null when the sensor is silent (dropout).
   * The PRNG is drawn in the same order every run, so a seed reproduces the stream.
   */
  next(ts: number): { payload: Buffer; malformed: MalformedKind | null } | null {
    let silent = false
    let add = 0
    let stuck = false
    for (const w of this.windows) {
      if (ts < w.start || ts >= w.end) continue
      if (w.kind === 'dropout') silent = true
      else if (w.kind === 'spike' || w.kind === 'level') add += w.magnitude
      else if (w.kind === 'drift') add += (w.magnitude * (ts - w.start)) / (w.end - w.start)
      else stuck = true
    }
    const s = this.sample(ts)
    const bad = this.rnd() < this.spec.malformedRate
    const kindPick = this.rnd()
    if (silent || s === null) return null
    if (bad) {
      const kind = MALFORMED_KINDS[Math.floor(kindPick * MALFORMED_KINDS.length)]!
      return { payload: malformedPayload(kind, ts, this.rnd), malformed: kind }
    }
    let value = s.value + add + (this.spec.drift * (ts - this.t0)) / 1000
    if (stuck) {
      this.stuckAt ??= value
      value = this.stuckAt
    } else this.stuckAt = undefined
    const body: Record<string, number> = { value: round(value), ts: Math.round(ts) }
    if (s.lat !== undefined && s.lon !== undefined) {
      body.lat = round(s.lat, 6)
      body.lon = round(s.lon, 6)
    }
    return { payload: Buffer.from(JSON.stringify(body)), malformed: null }
  }

  private sample(ts: number): { value: number; lat?: number; lon?: number } | null {
    if (!this.series) return this.profile(ts, this.rnd)
    const n = this.series.values.length
    const i = this.row++
    if (i >= n && !this.spec.replay?.loop) return null
    return { value: this.series.values[i % n]! }
  }
}

function round(v: number, digits = 4): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Expand `count` into concrete sensors (`${id}-${i}` when count > 1). */
export function buildSensors(config: SimConfig, t0: number): SimSensor[] {
  const out: SimSensor[] = []
  const seen = new Set<string>()
  for (const spec of config.sensors) {
    const series = spec.replay ? loadReplay(spec.replay) : undefined
    for (let i = 0; i < spec.count; i++) {
      const id = spec.count > 1 ? `${spec.id}-${i}` : spec.id
      if (seen.has(id))
        throw new FoglineError('FOG_CONFIG_INVALID', `sensor id "${id}" is used twice`, { field: 'sensors' })
      seen.add(id)
      out.push(new SimSensor(spec, id, config.seed, t0, series))
    }
  }
  return out
}
