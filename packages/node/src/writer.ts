import type { AppendItem, Outbox } from '@fogline/outbox'
import type { EngineOutput } from '@fogline/pipeline'
import { type Clock, type ErrorData, toErrorData } from '@fogline/protocol'
import type { Logger } from './logger.js'

/** Key of the pipeline checkpoint in the outbox's state table. */
export const CHECKPOINT_KEY = 'pipeline.checkpoint'
/** Outputs kept in memory while the disk refuses writes; past this they are dropped and counted. */
const MAX_HELD = 100_000
/** how long a refused write waits before it is tried again */
const RETRY_MS = 1000

export interface WriterOptions {
  outbox: Outbox
  /** the engine's state, committed with every summary so a crash neither loses nor repeats one */
  snapshot: () => unknown
  /** state committed with raw outputs (the ingest journal's raw position), cut with the commit */
  rawState?: () => Record<string, unknown>
  /**
   * With the ingest journal: events that replay can make again (of journaled readings) commit this instead of
   * the snapshot (the journal's events position, cut with the commit; replay drops their events up to it).
   * `replayable` may make it so: it journals a QoS 0 reading whose event is about to commit.
   */
  events?: { replayable: () => boolean; state: () => Record<string, unknown> }
  clock: Clock
  log: Logger
}

export interface WriterStats {
  /** outputs written (or held for writing) per stream */
  outputs: Record<string, number>
  /** outputs dropped by the writer: `disk-full` when more than it may hold piled up */
  dropped: Record<string, number>
  /** outputs held in memory while the outbox refuses writes */
  held: number
}

type Waiter = { resolve: () => void; reject: (e: unknown) => void }
/**
 * Commits that carry the engine snapshot at most this often (real time). Each packs the whole engine (~180 KB
 * at 1,000 sensors), and at a window boundary every sensor's window closes on its own next reading, spread
 * over one reading period: one commit per close made the node stall (26 s at 3,000 sensors, RSS +55 MiB;
 * docs/benchmarks.md). Summaries closing within this time share one commit and its snapshot; an urgent
 * output (an event) still goes at once and takes them along.
 */
const STATE_EVERY_MS = 100

/** what a commit must carry, each level covering those below: nothing, raw position, events position, snapshot */
const Need = { None: 0, Raw: 1, Events: 2, Snapshot: 3 } as const
type Need = (typeof Need)[keyof typeof Need]

/**
 * The node's one writer into the outbox. Lifecycle: create → write/checkpoint* → close.
 * Every engine output goes straight into `outbox.append`, whose group commit is the only batching (it also
 * decides urgency and tells the uplink). A summary carries the engine snapshot as lazy state, read when the
 * commit is cut, so the checkpoint covers exactly the outputs committed with it. An event does too, unless
 * the ingest journal can replay its reading: then it carries only the journal position (`events`).
 * A refused append (a full disk) does not lose what was computed: its outputs, and all that follow, are held
 * in memory in order and written again every second, with a snapshot cut at that moment; what the freed
 * space cannot take whole is written in parts, the state with the last.
 * @example const writer = new Writer({ outbox, snapshot: () => engine.snapshot(), clock, log }); emit = writer.write
 */
export class Writer {
  private readonly outputs: Record<string, number> = {}
  private readonly dropped: Record<string, number> = {}
  /** the lazy state per Need: one function each, so a commit reads each at most once */
  private readonly states: Array<(() => Record<string, unknown>) | undefined>
  /** outputs refused by the outbox and all written after them, in order; null while writes go straight in */
  private held: AppendItem[] | null = null
  private heldNeed: Need = Need.None
  private waiters: Waiter[] = []
  private retryTimer: unknown = null
  /** a held batch is being written again: new outputs wait behind it, so its snapshot never runs ahead */
  private retrying = false
  /**
   * outputs per retry: all of them until a retry is refused, then halved at each refusal. The parts before the
   * last go without the state, so a crash between them and the last part makes their outputs again at replay
   * (counted twice); the last part carries the state and the waiters (docs/decisions.md)
   */
  private chunk = Number.POSITIVE_INFINITY
  private last: Promise<unknown> = Promise.resolve()
  /** snapshot-carrying outputs waiting for the next snapshot commit (STATE_EVERY_MS), in order */
  private coalesced: AppendItem[] = []
  private coalesceTimer: NodeJS.Timeout | null = null
  private lastStateAt = Number.NEGATIVE_INFINITY
  private error: ErrorData | null = null
  private closed = false

  constructor(private readonly o: WriterOptions) {
    const ev = o.events?.state
    this.states = [
      undefined,
      o.rawState,
      ev && (() => ({ ...o.rawState?.(), ...ev() })),
      () => ({ [CHECKPOINT_KEY]: o.snapshot(), ...o.rawState?.(), ...ev?.() }),
    ]
  }

  /** the engine's emit: bound, so it can be handed over as is */
  readonly write = (outs: EngineOutput[]): void => {
    const items: AppendItem[] = []
    let need: Need = Need.None
    for (const out of outs) {
      this.outputs[out.stream] = (this.outputs[out.stream] ?? 0) + 1
      items.push({ stream: out.stream, ts: out.ts, priority: out.priority, body: out.body })
      // a window closed: its summary and the engine state commit together
      const n: Need = out.stream === 'raw' ? Need.Raw : out.stream === 'event' ? Need.Events : Need.Snapshot
      if (n > need) need = n
    }
    if (items.length === 0) return
    // an event replay cannot make again (no journal, or its QoS 0 reading could not be journaled) needs the state
    // it left committed
    if (need === Need.Events && !this.o.events?.replayable()) need = Need.Snapshot
    if (this.held) {
      this.hold(items, need)
      return
    }
    // real time, like the outbox's commit clock: a stopped fake clock must never hold outputs back
    const now = performance.now()
    const urgent = items.some((i) => i.priority === 0)
    if (need === Need.Snapshot && !urgent && now - this.lastStateAt < STATE_EVERY_MS) {
      for (const it of items) this.coalesced.push(it)
      this.coalesceTimer ??= setTimeout(
        () => this.flushCoalesced(),
        STATE_EVERY_MS - (now - this.lastStateAt),
      )
      return
    }
    if (this.coalesced.length && (need === Need.Snapshot || urgent)) {
      items.unshift(...this.takeCoalesced())
      need = Need.Snapshot
    }
    if (need === Need.Snapshot) this.lastStateAt = now
    this.append(items, need).catch(() => {})
  }

  private takeCoalesced(): AppendItem[] {
    if (this.coalesceTimer) clearTimeout(this.coalesceTimer)
    this.coalesceTimer = null
    const c = this.coalesced
    this.coalesced = []
    return c
  }

  /** the waiting summaries go in one commit with one snapshot, cut now */
  private flushCoalesced(): Promise<void> {
    const items = this.takeCoalesced()
    if (this.held) {
      this.hold(items, items.length ? Need.Snapshot : Need.None)
      return Promise.resolve()
    }
    this.lastStateAt = performance.now()
    return this.append(items, Need.Snapshot)
  }

  /** commit the engine state now, after every output written before this call */
  checkpoint(): Promise<void> {
    if (!this.held) return this.flushCoalesced()
    this.heldNeed = Need.Snapshot
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  stats(): WriterStats {
    return { outputs: { ...this.outputs }, dropped: { ...this.dropped }, held: this.held?.length ?? 0 }
  }

  /** why the last write failed, until a write succeeds again */
  lastError(): ErrorData | null {
    return this.error
  }

  /** wait for what is being written; what the outbox still refuses stays unwritten (and is logged) */
  async close(): Promise<void> {
    if (this.coalesced.length) this.flushCoalesced().catch(() => {})
    this.closed = true
    if (this.retryTimer !== null) this.o.clock.clearTimeout(this.retryTimer)
    this.retryTimer = null
    await this.last
    if (this.held?.length)
      this.o.log.error(
        { records: this.held.length, lastError: this.error },
        'outputs not written at stop (outbox refused writes)',
      )
    for (const w of this.waiters) w.reject(this.error)
    this.waiters = []
  }

  private append(items: AppendItem[], need: Need): Promise<void> {
    // the engine snapshot is cut now, eagerly: summaries written after this call may wait in `coalesced`, and a
    // snapshot cut later, at the commit, could hold windows whose summaries are not in it (lost at a crash).
    // The journal positions stay cut at the commit, so they cover every record the commit holds
    const snap = need === Need.Snapshot ? this.o.snapshot() : undefined
    const state =
      snap === undefined
        ? this.states[need]
        : () => ({ [CHECKPOINT_KEY]: snap, ...this.o.rawState?.(), ...this.o.events?.state() })
    const p = this.o.outbox.append(items, state ? { state } : undefined).then(
      () => {
        this.error = null
      },
      (err: unknown) => {
        this.failed(err, items.length)
        // a refused group commit rejects every append in it, in order, so `held` keeps the order
        this.hold(items, need)
        throw err
      },
    )
    this.last = p.catch(() => {})
    return p
  }

  private failed(err: unknown, records: number): void {
    this.error = toErrorData(err)
    this.o.log.error({ err, records }, 'outbox append failed; will retry')
  }

  private hold(items: AppendItem[], need: Need): void {
    // outputs waiting for a snapshot commit were written after these: they follow them into the hold
    if (this.coalesced.length) {
      items = items.concat(this.takeCoalesced())
      need = Need.Snapshot
    }
    this.held ??= []
    const room = MAX_HELD - this.held.length
    if (items.length > room)
      this.dropped['disk-full'] = (this.dropped['disk-full'] ?? 0) + items.length - room
    for (let i = 0; i < Math.min(room, items.length); i++) this.held.push(items[i]!)
    if (need > this.heldNeed) this.heldNeed = need
    if (this.retryTimer === null && !this.retrying && !this.closed)
      this.retryTimer = this.o.clock.setTimeout(() => this.retry(), RETRY_MS)
  }

  private retry(): void {
    this.retryTimer = null
    if (!this.held || this.retrying) return
    const all = this.held
    // a part: the first `chunk` outputs alone, no state and no waiters (those go with the last part)
    const part = all.length > this.chunk
    const items = part ? all.slice(0, this.chunk) : all
    const need = part ? Need.None : this.heldNeed
    const done = part ? [] : this.waiters
    this.held = part ? all.slice(this.chunk) : []
    if (!part) {
      this.heldNeed = Need.None
      this.waiters = []
    }
    this.retrying = true
    // cut now, eagerly: outputs written from here on queue behind this batch
    const state = this.states[need]?.()
    this.last = this.o.outbox.append(items, state ? { state } : undefined).then(
      () => {
        this.retrying = false
        this.error = null
        for (const w of done) w.resolve()
        if (!part) this.chunk = Number.POSITIVE_INFINITY
        if (this.held?.length || this.heldNeed !== Need.None || this.waiters.length) this.retry()
        else this.held = null
      },
      (err: unknown) => {
        this.retrying = false
        this.failed(err, items.length)
        // what did not fit whole is tried in halves: the space a drain frees may never hold all of it at once
        if (items.length > 1) this.chunk = Math.ceil(items.length / 2)
        const later = this.held ?? []
        const laterNeed = this.heldNeed
        this.held = null
        this.heldNeed = Need.None
        this.hold(items.concat(later), Math.max(need, laterNeed) as Need)
        for (const w of done) w.reject(err)
      },
    )
  }
}
