import type { Clock } from '@fogline/protocol'

/** The one fake clock for tests: time moves only when the test says so. */
export interface FakeClock extends Clock {
  /** set the time without running timers (windows read `now()` only) */
  set(t: number): void
  /** move time forward by `ms`, running every timer that falls due, in order */
  advance(ms: number): void
  /** like `advance`, but lets promise callbacks run between timers */
  advanceAsync(ms: number): Promise<void>
  /** how many timers are pending */
  pending(): number
}

/**
 * A manual clock whose timers run when `advance` passes them.
 * @example const clock = fakeClock(); createThing({ clock }); clock.advance(5_000)
 */
export function fakeClock(start = 1_700_000_000_000): FakeClock {
  let now = start
  let nextId = 0
  const timers = new Map<number, { at: number; fn: () => void; every?: number }>()
  const add = (fn: () => void, ms: number, every?: number) => {
    const id = ++nextId
    timers.set(
      id,
      every === undefined ? { at: now + Math.max(0, ms), fn } : { at: now + Math.max(1, ms), fn, every },
    )
    return id
  }
  const nextDue = (end: number) => {
    let best: [number, { at: number; fn: () => void; every?: number }] | undefined
    for (const e of timers) if (e[1].at <= end && (!best || e[1].at < best[1].at)) best = e
    return best
  }
  const fire = (end: number): boolean => {
    const due = nextDue(end)
    if (!due) return false
    const [id, t] = due
    now = Math.max(now, t.at)
    if (t.every === undefined) timers.delete(id)
    else t.at += Math.max(1, t.every)
    t.fn()
    return true
  }
  return {
    now: () => now,
    set(t) {
      now = t
    },
    setTimeout: (fn, ms) => add(fn, ms),
    clearTimeout: (h) => void timers.delete(h as number),
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: (h) => void timers.delete(h as number),
    advance(ms) {
      const end = now + ms
      while (fire(end));
      now = end
    },
    async advanceAsync(ms) {
      const end = now + ms
      for (;;) {
        await new Promise<void>((r) => setImmediate(r))
        if (!fire(end)) break
      }
      now = end
      await new Promise<void>((r) => setImmediate(r))
    },
    pending: () => timers.size,
  }
}
