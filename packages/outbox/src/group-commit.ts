import { afterOrNextTurn, type Clock } from '@fogline/protocol'

/**
 * Group commit: appends within `interval` share one transaction (one fsync). One holding a priority-0 record
 * (an event, a report) commits on the next turn instead: those are few and wait for nothing; summaries and
 * raw readings still share one commit per interval. `maxQueued` records commit at once.
 * The interval runs on `clock` (the outbox's commit clock: real time by default, so a stopped fake clock
 * never stalls appends); "next turn" is setImmediate, a turn of the event loop rather than time.
 * Lifecycle: create → (queue → flush)* → flush at close.
 */
export class GroupCommit<P> {
  private queue: P[] = []
  private queued = 0
  /** cancels the pending flush */
  private pending: (() => void) | null = null
  /** the pending flush is on the next turn (not after `interval`) */
  private nextTurn = false

  constructor(
    private readonly o: { interval: number; maxQueued: number; clock: Clock },
    /** commit one batch, in order; called synchronously */
    private readonly commit: (batch: P[]) => void,
  ) {}

  add(p: P, records: number, urgent: boolean): void {
    this.queue.push(p)
    this.queued += records
    if (this.queued >= this.o.maxQueued) {
      this.flush()
      return
    }
    if (urgent ? this.nextTurn : this.pending !== null) return
    this.cancel()
    const ms = urgent ? 0 : this.o.interval
    this.pending = afterOrNextTurn(this.o.clock, ms, () => this.flush())
    this.nextTurn = ms <= 0
  }

  flush(): void {
    this.cancel()
    if (this.queue.length === 0) return
    const batch = this.queue
    this.queue = []
    this.queued = 0
    this.commit(batch)
  }

  private cancel(): void {
    this.pending?.()
    this.pending = null
    this.nextTurn = false
  }
}
