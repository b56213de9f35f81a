import { existsSync } from 'node:fs'
import type { Clock, CronWindow, UploadSchedule } from '@fogline/protocol'
import cron from 'node-cron'

/** A cron expression that answers "when is the next match after t" on any clock (not node-cron's timers). */
export interface CompiledCron {
  readonly expr: string
  /** first match strictly after `t` (epoch ms), or null if none within two years */
  next(t: number): number | null
  close(): void
}

type Matcher = { getNextMatch?(d: Date): Date; match(d: Date): boolean; expressions?: unknown[][] }

/**
 * Compile a five-field cron expression with node-cron's parser (same syntax as the jobs it triggers). The
 * task is never started: it only answers questions about time. Without a time zone, and when every field is
 * plain numbers (no L, W or #), the next match is found with the local-time `Date` getters (`localNext`):
 * node-cron's matcher reads every time through `Intl.DateTimeFormat`, and the first use of it maps ICU's
 * data into the process — 7–9 MiB of RSS on a node that otherwise never needs it (docs/benchmarks.md).
 * @example const c = compileCron('0 2 * * *', 'Europe/Berlin'); c.next(clock.now())
 */
export function compileCron(expr: string, timezone?: string): CompiledCron {
  const task = cron.createTask(expr, () => {}, timezone ? { timezone } : {})
  const m = (task as unknown as { timeMatcher?: Matcher }).timeMatcher
  const limit = 2 * 366 * 86_400_000
  const fields = timezone ? null : plainFields(m?.expressions)
  return {
    expr,
    next(t) {
      if (fields) return localNext(fields, t, limit)
      if (m?.getNextMatch) {
        const d = m.getNextMatch(new Date(t)).getTime()
        return d - t <= limit ? d : null
      }
      // fallback (older node-cron): minute by minute for two days
      for (let x = Math.floor(t / 60_000) * 60_000 + 60_000; x - t <= 2 * 86_400_000; x += 60_000)
        if (task.match(new Date(x))) return x
      return null
    },
    close: () => void task.destroy(),
  }
}

/** node-cron's parsed fields (second, minute, hour, day, month 1-12, weekday 0-6) if all are plain numbers */
function plainFields(e: unknown[][] | undefined): Array<Set<number>> | null {
  if (e?.length !== 6 || !e.every((f) => Array.isArray(f) && f.every((v) => typeof v === 'number')))
    return null
  // node-cron maps weekday 7 to 0 when it parses; keep both meanings of Sunday anyway
  const sets = e.map((f) => new Set(f as number[]))
  if (sets[5]!.has(7)) sets[5]!.add(0)
  return sets
}

/** First local time strictly after `t` whose second..weekday are in `f`, within `limit` ms, or null. */
function localNext(f: Array<Set<number>>, t: number, limit: number): number | null {
  const [secs, mins, hours, days, months, wdays] = f as [Set<number>, ...Array<Set<number>>]
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b)
  const S = sorted(secs)
  const M = sorted(mins!)
  const H = sorted(hours!)
  const start = new Date(t)
  for (let k = 0; k <= Math.ceil(limit / 86_400_000) + 1; k++) {
    const day = new Date(start.getFullYear(), start.getMonth(), start.getDate() + k)
    if (!days!.has(day.getDate()) || !months!.has(day.getMonth() + 1) || !wdays!.has(day.getDay())) continue
    for (const h of H)
      for (const mi of M)
        for (const s of S) {
          const x = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, mi, s).getTime()
          // a local time that does not exist (a DST gap) is skipped, as it never reads back
          if (x > t && new Date(x).getHours() === h) return x - t <= limit ? x : null
        }
  }
  return null
}

/**
 * Call `fn` at every match of `c`, on real time (like node-cron's own scheduling, which the jobs and windows
 * used before: it read the time through Intl every second). Unref'd; re-armed after each call and at most
 * every 2^31 − 1 ms (setTimeout's limit). Lifecycle: start → stop.
 */
export function cronTrigger(c: CompiledCron, fn: () => void): { stop(): void } {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const arm = () => {
    if (stopped) return
    const now = Date.now()
    const n = c.next(now)
    const wait = Math.min(n === null ? 86_400_000 : n - now, 2 ** 31 - 1)
    timer = setTimeout(() => {
      if (n !== null && Date.now() >= n) fn()
      arm()
    }, wait)
    timer.unref()
  }
  arm()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}

/** Whether a set of windows is open at a time, and until when that holds. */
export interface WindowState {
  open: boolean
  /** the state holds until this time (epoch ms): the open window's end, or the next opening */
  until: number
}

export interface CompiledWindow {
  cron: CompiledCron
  duration: number
}

/**
 * Pure function of the time and the cron expressions: open when some window started at a match m with
 * t - duration < m <= t. node-cron only triggers re-evaluation; a missed trigger changes nothing here.
 */
export function windowState(windows: readonly CompiledWindow[], t: number): WindowState {
  let openUntil = Number.NEGATIVE_INFINITY
  let opensAt = Number.POSITIVE_INFINITY
  for (const w of windows) {
    let m = w.cron.next(t - w.duration)
    if (m === null) continue
    if (m > t) {
      opensAt = Math.min(opensAt, m)
      continue
    }
    // the latest start <= t gives the latest end (windows may overlap)
    for (let n = w.cron.next(m); n !== null && n <= t; n = w.cron.next(m)) m = n
    openUntil = Math.max(openUntil, m + w.duration)
  }
  if (openUntil > t) return { open: true, until: openUntil }
  // no match within two years: look again in a day
  return { open: false, until: Number.isFinite(opensAt) ? opensAt : t + 86_400_000 }
}

/** A set of windows read on an injected clock, re-evaluated only when the cached state expires. */
export interface WindowGate {
  isOpen(): boolean
  state(): WindowState
  close(): void
}

/**
 * @example const g = createWindowGate(clock, [{ cron: '0 1 * * *', duration: 4 * 3600_000 }]); g.isOpen()
 */
export function createWindowGate(clock: Clock, windows: readonly CronWindow[]): WindowGate {
  const compiled = windows.map((w) => ({ cron: compileCron(w.cron, w.timezone), duration: w.duration }))
  let cached: WindowState | null = null
  let cachedAt = 0
  const state = () => {
    const now = clock.now()
    // re-evaluate when the cached state ran out or the clock was set back before it was computed
    if (!cached || now >= cached.until || now < cachedAt) {
      cached = windowState(compiled, now)
      cachedAt = now
    }
    return cached
  }
  return {
    isOpen: () => state().open,
    state,
    close: () => {
      for (const c of compiled) c.cron.close()
    },
  }
}

/** Why uploads wait or go: what the node says in its stats. */
export interface UploadGateState {
  scheduled: boolean
  open: boolean
  /** when the current state ends (epoch ms), null when unscheduled */
  until: number | null
  /** set while the schedule is not applied (e.g. FOG_CLOCK_UNTRUSTED) */
  reason: string | null
}

const TIMESYNC_MARK = '/run/systemd/timesync/synchronized'

/**
 * Whether the wall clock can be trusted for schedules: a Pi has no RTC and boots at the last saved time
 * until systemd-timesyncd synchronizes (it touches TIMESYNC_MARK). Once trusted, stays trusted.
 */
export function timesyncTrust(clock: Clock, mark = TIMESYNC_MARK): () => boolean {
  let trusted = false
  let checkedAt = Number.NEGATIVE_INFINITY
  return () => {
    if (trusted) return true
    const now = clock.now()
    if (now - checkedAt < 10_000) return false
    checkedAt = now
    trusted = existsSync(mark)
    return trusted
  }
}

/**
 * The uplink's upload window: which streams may go now. Bypass streams always go; the others only
 * inside a window, and only once the clock is trusted (until then the node uplinks as if unscheduled).
 * @example const gate = createUploadGate(clock, config.uplink.schedule, timesyncTrust(clock)); gate.allows('summary')
 */
export function createUploadGate(
  clock: Clock,
  schedule: UploadSchedule | undefined,
  clockTrusted: () => boolean,
): { allows(stream: string): boolean; state(): UploadGateState; close(): void } {
  if (!schedule)
    return {
      allows: () => true,
      state: () => ({ scheduled: false, open: true, until: null, reason: null }),
      close() {},
    }
  const gate = createWindowGate(clock, schedule.windows)
  const bypass = new Set<string>(schedule.bypass)
  const trusted = () => schedule.clockTrust === 'always' || clockTrusted()
  return {
    allows: (stream) => bypass.has(stream) || !trusted() || gate.isOpen(),
    state() {
      if (!trusted())
        return {
          scheduled: true,
          open: true,
          until: null,
          reason:
            'FOG_CLOCK_UNTRUSTED: the clock is not synchronized yet (no systemd-timesyncd sync), so the upload windows are not applied and the backlog drains at once',
        }
      const s = gate.state()
      return { scheduled: true, open: s.open, until: s.until, reason: null }
    },
    close: () => gate.close(),
  }
}
