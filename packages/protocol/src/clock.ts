/**
 * Time is injected: windows, backoff, TTLs, heartbeats and schedules read a Clock so tests can drive it.
 * Every runtime timer goes through one; where a library owns its timer (mqtt.js keepalive, aedes), the
 * call site says so in a comment.
 */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

/** Real time: Node's own timers (a pending one keeps the process alive, so clear what you set). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
}

/**
 * Run `fn` after `ms` on `clock`, or on the next turn of the event loop when `ms` is 0 (a turn, not time:
 * setImmediate, after the turn's I/O). Returns how to cancel it. The group commits' one scheduler (the outbox's
 * and the ingest journal's).
 * @example const cancel = afterOrNextTurn(clock, interval, () => this.flush())
 */
export function afterOrNextTurn(clock: Clock, ms: number, fn: () => void): () => void {
  if (ms > 0) {
    const h = clock.setTimeout(fn, ms)
    return () => clock.clearTimeout(h)
  }
  const im = setImmediate(fn)
  return () => clearImmediate(im)
}

/** Resolves after `ms` on `clock`: the one way runtime code waits. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}
