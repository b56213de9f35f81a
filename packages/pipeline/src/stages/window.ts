import type { Reading, Summary } from '@fogline/protocol'
import { Duration } from '@fogline/protocol'
import { z } from 'zod'
import { AGGREGATE_PATTERN, Agg } from '../aggregates.js'
import { GROUP_KEY_PATTERN, Keyed, type KeyGetter, keyGetter, SENSOR_KEY } from '../keyed.js'
import type { Stage, StageContext, StageDef } from '../types.js'

export const WindowConfig = z
  .strictObject({
    type: z.literal('window'),
    kind: z.enum(['tumbling', 'hopping', 'session', 'count']).default('tumbling'),
    /** tumbling/hopping: window length */
    size: Duration.optional(),
    /** hopping: distance between window starts (≤ size) */
    hop: Duration.optional(),
    /** session: a window closes after this long without a reading */
    gap: Duration.optional(),
    /** count: readings per window */
    count: z.number().int().positive().optional(),
    aggregates: z
      .array(
        z
          .string()
          .regex(
            AGGREGATE_PATTERN,
            'unknown aggregate (count, sum, min, max, mean, stddev, variance, first, last, rate, p50, p90, p95, p99)',
          ),
      )
      .default(['count', 'min', 'max', 'mean', 'sum']),
    /** group key parts: sensorId, metric, fields.<name> */
    groupBy: z
      .array(z.string().regex(GROUP_KEY_PATTERN, 'use sensorId, metric or fields.<name>'))
      .min(1)
      .default(['sensorId', 'metric']),
    /** processing: arrival time; event: the reading's ts, closed by a watermark */
    time: z.enum(['processing', 'event']).default('processing'),
    /** event time: how far out of order readings may arrive before a window closes */
    watermark: Duration.default(0),
    /** event time: how long after closing a window still takes late readings (counted; emitted as corrections if enabled) */
    allowedLateness: Duration.default(0),
    corrections: z.boolean().default(false),
    /** event time: after this long without any reading (processing time), the watermark moves on with the clock */
    idle: Duration.optional(),
    /** relative error α of percentile aggregates (DDSketch) */
    accuracy: z.number().gt(0).lt(0.5).default(0.01),
    /** cap on open groups, so a flood of new sensor ids cannot exhaust memory */
    maxGroups: z.number().int().positive().default(100_000),
  })
  .superRefine((c, ctx) => {
    const need = (k: 'size' | 'hop' | 'gap' | 'count') => {
      if (c[k] === undefined || c[k] === 0)
        ctx.addIssue({ code: 'custom', path: [k], message: `a ${c.kind} window needs a positive ${k}` })
    }
    if (c.kind === 'tumbling' || c.kind === 'hopping') need('size')
    if (c.kind === 'hopping') {
      need('hop')
      if (c.hop !== undefined && c.size !== undefined && c.hop > c.size)
        ctx.addIssue({ code: 'custom', path: ['hop'], message: 'hop must not be larger than size' })
    }
    if (c.kind === 'session') need('gap')
    if (c.kind === 'count') need('count')
  })
export type WindowConfig = z.output<typeof WindowConfig>

/** An open window: its bounds and running aggregates (Agg), and its state in event time. */
class Win extends Agg {
  /** event time: already emitted once; further readings are late */
  emitted = false
  /** a late reading changed it since it was emitted */
  dirty = false
}

interface Group {
  key: string[]
  sensorId: string
  metric: string
  /** open windows, ascending start */
  wins: Win[]
}

/** a group's first window gets an array of one: a push or splice on [] reserves 17 slots, ~150 B a sensor */
function insertWin(g: Group, i: number, w: Win): void {
  if (g.wins.length === 0) g.wins = [w]
  else g.wins.splice(i, 0, w)
}

/** Windows over readings per group; emits a Summary per window on the `summary` stream and passes readings on. */
export const window: StageDef<WindowConfig> = {
  name: 'window',
  schema: WindowConfig,
  emits: ['summary'],
  create(c, ctx) {
    return new WindowStage(c, ctx)
  },
}

class WindowStage implements Stage {
  private readonly groups: Keyed<Group>
  private readonly getters: KeyGetter[]
  private readonly extras: string[]
  private readonly alpha: number | undefined
  private readonly size: number
  private readonly hop: number
  private readonly event: boolean
  private readonly tumbling: boolean
  private watermark = Number.NEGATIVE_INFINITY
  /** processing time of the last reading (event time: for the idle rule) */
  private lastArrival = 0
  /** a lower bound of when the next window is due (by clock or watermark), so most ticks do nothing */
  private nextDue = Number.POSITIVE_INFINITY

  constructor(
    private readonly c: WindowConfig,
    private readonly ctx: StageContext,
  ) {
    this.getters =
      c.groupBy.length === 2 && c.groupBy[0] === 'sensorId' && c.groupBy[1] === 'metric'
        ? (SENSOR_KEY as KeyGetter[])
        : c.groupBy.map((g) => keyGetter(g)!)
    this.groups = new Keyed<Group>(this.getters)
    this.extras = c.aggregates.filter((a) => !['count', 'min', 'max', 'mean', 'sum'].includes(a))
    this.alpha = this.extras.some((a) => a.startsWith('p')) ? c.accuracy : undefined
    this.size = c.size ?? 0
    this.hop = c.kind === 'hopping' ? c.hop! : this.size
    this.event = c.time === 'event'
    this.tumbling = c.kind === 'tumbling'
  }

  process(r: Reading): Reading | undefined {
    const t = this.event ? r.ts : this.ctx.now()
    let g = this.groups.get(r)
    if (g === undefined) {
      if (this.groups.size >= this.c.maxGroups) {
        this.ctx.deadLetter(
          'FOG_READING_INVALID',
          `window has ${this.c.maxGroups} open groups (maxGroups); reading not counted`,
        )
        return r
      }
      const key = this.groups.keyOf(r)
      g = this.groups.add({ key, sensorId: r.sensorId, metric: r.metric, wins: [] })
    }
    if (this.event) {
      this.lastArrival = this.ctx.now()
      this.addEvent(g, r.value, t)
      const wm = t - this.c.watermark
      if (wm > this.watermark) this.watermark = wm
      this.closeGroup(g, this.watermark)
    } else {
      // the common case first: one open tumbling window that the reading falls in
      const w0 = g.wins[0]
      if (this.tumbling && g.wins.length === 1 && w0!.end > t && w0!.start <= t) {
        w0!.add(r.value, t)
        return r
      }
      // processing time: windows of this group that are due close before the reading is added
      if (g.wins.length > 0 && this.due(g.wins[0]!, t)) this.closeGroup(g, t)
      this.addAt(g, r.value, t, t)
    }
    return r
  }

  private due(w: Win, t: number): boolean {
    if (this.c.kind === 'session') return t - w.lastTs >= this.c.gap!
    if (this.c.kind === 'count') return false
    return w.end <= t
  }

  /** add a value at window-assignment time t (reading ts for rate/first/last is ts) */
  private addAt(g: Group, v: number, t: number, ts: number): void {
    const k = this.c.kind
    if (k === 'tumbling' || k === 'hopping') {
      // every window [s, s+size) with s a multiple of hop and s ≤ t < s+size
      const last = t - (((t % this.hop) + this.hop) % this.hop)
      for (let s = last - Math.ceil(this.size / this.hop - 1) * this.hop; s <= last; s += this.hop) {
        if (s + this.size <= t) continue
        this.winAt(g, s, s + this.size).add(v, ts)
      }
      return
    }
    if (k === 'session') {
      let w = g.wins[g.wins.length - 1]
      if (w === undefined || t - w.lastTs >= this.c.gap!) w = this.newWin(g, t, t + this.c.gap!)
      w.add(v, ts)
      w.end = t + this.c.gap!
      if (w.end < this.nextDue) this.nextDue = w.end
      return
    }
    // count
    let w = g.wins[0]
    if (w === undefined) w = this.newWin(g, t, t + 1)
    w.add(v, ts)
    w.end = t + 1
    if (w.count >= this.c.count!) {
      this.emitWin(g, w)
      g.wins.length = 0
    }
  }

  private newWin(g: Group, start: number, end: number): Win {
    const w = new Win(this.alpha, start, end)
    insertWin(g, g.wins.length, w)
    return w
  }

  private winAt(g: Group, start: number, end: number): Win {
    const ws = g.wins
    let i = ws.length - 1
    while (i >= 0 && ws[i]!.start > start) i--
    if (i >= 0 && ws[i]!.start === start) return ws[i]!
    const w = new Win(this.alpha, start, end)
    insertWin(g, i + 1, w)
    if (end < this.nextDue) this.nextDue = end
    return w
  }

  private addEvent(g: Group, v: number, t: number): void {
    const lateness = this.c.allowedLateness
    if (this.c.kind === 'session' || this.c.kind === 'count') {
      // sessions and counts in event time: a reading behind the watermark is late (no corrections)
      if (this.c.kind === 'session' && t < this.watermark - lateness) {
        this.late()
        return
      }
      this.addAt(g, v, t, t)
      return
    }
    const last = t - (((t % this.hop) + this.hop) % this.hop)
    let counted = false
    for (let s = last - Math.ceil(this.size / this.hop - 1) * this.hop; s <= last; s += this.hop) {
      const e = s + this.size
      if (e <= t) continue
      if (e + lateness <= this.watermark) {
        // its window is gone for good
        if (!counted) this.late()
        counted = true
        continue
      }
      const w = this.winAt(g, s, e)
      if (w.emitted) {
        if (!counted) this.late()
        counted = true
        if (!this.c.corrections) continue
        w.dirty = true
      }
      w.add(v, t)
    }
  }

  private late(): void {
    this.ctx.counters.late = (this.ctx.counters.late ?? 0) + 1
  }

  /** emit windows of g that are due at time t (processing time or watermark) */
  private closeGroup(g: Group, t: number): void {
    const ws = g.wins
    let keep = 0
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!
      if (this.event) {
        const k = this.c.kind
        // count windows close by count only
        const closed = k === 'count' ? false : k === 'session' ? w.lastTs + this.c.gap! <= t : w.end <= t
        if (closed && !w.emitted) {
          this.emitWin(g, w)
          w.emitted = true
        } else if (w.dirty) {
          this.emitWin(g, w, true)
        }
        w.dirty = false
        // keep for late readings until the lateness has passed too
        if (!(closed && w.end + this.c.allowedLateness <= t)) ws[keep++] = w
      } else if (this.due(w, t)) this.emitWin(g, w)
      else ws[keep++] = w
    }
    ws.length = keep
  }

  flush(): void {
    for (const g of this.groups.all) for (const w of g.wins) if (!w.emitted) this.emitWin(g, w, false, true)
    this.groups.clear()
    this.nextDue = Number.POSITIVE_INFINITY
  }

  private emitWin(g: Group, w: Win, correction = false, partial = false): void {
    if (w.count === 0) return
    const body: Summary = {
      pipelineId: this.ctx.pipelineId,
      sensorId: this.c.groupBy.includes('sensorId') ? g.sensorId : g.key.join('/'),
      metric: this.c.groupBy.includes('metric') ? g.metric : '*',
      start: w.start,
      end: w.end,
      count: w.count,
      min: w.min,
      max: w.max,
      mean: w.sum / w.count,
      sum: w.sum,
    }
    if (this.extras.length > 0) {
      const aggs: Record<string, number> = {}
      for (const n of this.extras) aggs[n] = w.get(n)
      body.aggs = aggs
    }
    if (correction) body.correction = true
    if (partial) body.partial = true
    this.ctx.emit('summary', w.end, body)
  }

  tick(now: number): void {
    if (this.event) {
      // a quiet source must not hold its last windows open for ever
      const idle = this.c.idle
      if (idle !== undefined && Number.isFinite(this.watermark) && now - this.lastArrival > idle) {
        this.watermark += now - this.lastArrival - idle
        this.lastArrival = now - idle
      }
      if (this.watermark < this.nextDue) return
      const late = this.c.allowedLateness
      const kind = this.c.kind
      let next = Number.POSITIVE_INFINITY
      for (const g of this.groups.all) {
        this.closeGroup(g, this.watermark)
        if (g.wins.length === 0) this.groups.delete(g)
        else
          for (const w of g.wins) {
            // when this window next needs the watermark: to close, or to be dropped after its lateness
            const due =
              kind === 'count'
                ? next
                : w.emitted
                  ? w.end + late
                  : kind === 'session'
                    ? w.lastTs + this.c.gap!
                    : w.end
            if (due < next) next = due
          }
      }
      this.nextDue = next
      return
    }
    // nextDue is a lower bound of the earliest window end, so most ticks return here without a scan
    if (now < this.nextDue) return
    let next = Number.POSITIVE_INFINITY
    for (const g of this.groups.all) {
      this.closeGroup(g, now)
      if (g.wins.length === 0) this.groups.delete(g)
      else for (const w of g.wins) if (w.end < next) next = w.end
    }
    this.nextDue = next
  }

  snapshot(): unknown {
    const groups: unknown[] = []
    for (const g of this.groups.all)
      groups.push([
        g.key,
        g.sensorId,
        g.metric,
        g.wins.map((w) => [w.start, w.end, w.emitted ? 1 : 0, w.dirty ? 1 : 0, w.toJSON()]),
      ])
    return { wm: Number.isFinite(this.watermark) ? this.watermark : null, la: this.lastArrival, groups }
  }

  restore(state: unknown): void {
    const s = state as {
      wm: number | null
      la?: number
      groups: Array<[string[], string, string, Array<[number, number, number, number, unknown]>]>
    }
    this.groups.clear()
    this.watermark = s.wm ?? Number.NEGATIVE_INFINITY
    this.lastArrival = s.la ?? 0
    let next = Number.POSITIVE_INFINITY
    for (const [key, sensorId, metric, wins] of s.groups) {
      const g: Group = { key, sensorId, metric, wins: [] }
      for (const [start, end, emitted, dirty, agg] of wins) {
        const w = new Win(undefined, start, end).load(this.alpha, agg)
        w.emitted = emitted === 1
        w.dirty = dirty === 1
        g.wins.push(w)
        if (end < next) next = end
      }
      this.groups.add(g)
    }
    this.nextDue = next
  }

  /** open windows (for memory measurement) */
  get openWindows(): number {
    let n = 0
    for (const g of this.groups.all) n += g.wins.length
    return n
  }
}
