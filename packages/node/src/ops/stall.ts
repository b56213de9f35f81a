import type { Clock } from '@fogline/protocol'

export interface StallWatchOptions {
  clock: Clock
  /** a tick later than this past its due time is a stall */
  thresholdMs: number
  /** how often the watch ticks; default a quarter of the threshold (at least 50 ms) */
  everyMs?: number
  onStall(ms: number): void
}

/**
 * Detects event-loop stalls: a timer that should fire every `everyMs` and fires late by more than the
 * threshold means the loop was blocked that long (a sync disk write, a huge JSON parse, a GC storm).
 * prom-client's default metrics give the lag distribution; this reports each stall as it ends.
 * @example const w = watchStalls({ clock, thresholdMs: 1000, onStall: (ms) => log.warn({ ms }, 'stall') }); w.stop()
 */
export function watchStalls(o: StallWatchOptions): { stop(): void; count(): number } {
  const every = o.everyMs ?? Math.max(50, Math.floor(o.thresholdMs / 4))
  let last = o.clock.now()
  let count = 0
  const h = o.clock.setInterval(() => {
    const now = o.clock.now()
    const late = now - last - every
    last = now
    if (late > o.thresholdMs) {
      count++
      o.onStall(late)
    }
  }, every)
  // a watchdog must not keep a finished process alive
  ;(h as { unref?: () => void } | null)?.unref?.()
  return { stop: () => o.clock.clearInterval(h), count: () => count }
}
