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

type Matcher = { getNextMatch?(d: Date): Date; match(d: Date): boolean }

/**
 * Compile a five-field cron expression with node-cron's own matcher (same syntax and time-zone handling as
 * the jobs node-cron triggers). The task is never started: it only answers questions about time.
 * @example const c = compileCron('0 2 * * *', 'Europe/Berlin'); c.next(clock.now())
 */
export function compileCron(expr: string, timezone?: string): CompiledCron {
  const task = cron.createTask(expr, () => {}, timezone ? { timezone } : {})
  const m = (task as unknown as { timeMatcher?: Matcher }).timeMatcher
  const limit = 2 * 366 * 86_400_000
  return {
    expr,
    next(t) {
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
