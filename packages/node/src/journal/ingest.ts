import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Qos2Ids } from '@fogline/broker'
import type { EngineOutput } from '@fogline/pipeline'
import type { Clock, NodeConfig } from '@fogline/protocol'
import type { DeadLetterRow, DeadLetterStore } from '../deadletters.js'
import type { Logger } from '../logger.js'
import { CHECKPOINT_KEY } from '../writer.js'
import { type Committed, type IngestJournal, type JournalStats, openJournal } from './log.js'

/** Field of the pipeline checkpoint: the journal position the snapshot holds (committed with it). */
export const JOURNAL_POS_FIELD = 'journalPos'
/** State key: the journal position up to which `raw` outputs are in the outbox (replay must not repeat them). */
export const JOURNAL_RAW_POS_KEY = 'ingest.journal.rawPos'
/** State key: the journal position up to which events are in the outbox (replay must not repeat them). */
export const JOURNAL_EVENTS_POS_KEY = 'ingest.journal.eventsPos'

export interface DurableIngestOptions {
  /** the journal's own folder */
  dir: string
  synchronous: 'NORMAL' | 'FULL'
  /** unset: the journal's default for `synchronous` (log.ts) */
  commitInterval?: number | undefined
  clock: Clock
  /** the pipeline checkpoint found at start (it carries the journal position it holds) */
  checkpoint: unknown
  /** reads the outbox's state table */
  getState: (key: string) => unknown
  /** hands a reading to the pipeline engine (`now`: its arrival time, when known) */
  ingest: (topic: string, payload: Buffer, now?: number) => void
}

export interface DurableIngestStats extends JournalStats {
  /** readings replayed at the last start */
  replayed: number
  /** the position the engine has consumed up to */
  position: number
  /** QoS 2 resends (and PUBRELs) of an id taken before a restart, answered without taking the reading again */
  resent: number
}

/**
 * Durable QoS 1 ingest: a reading is journaled and handed to the engine at once; its PUBACK waits for the
 * journal's group commit. Every snapshot carries the journal position it holds, so replay after a crash
 * starts right after it: a reading is in the snapshot or in the replay, never both, never neither.
 * Lifecycle: create → replay() (before the broker listens) → accept()* → stateFor/committed per checkpoint → close.
 */
export class DurableIngest {
  private readonly journal: IngestJournal
  private readonly opts: DurableIngestOptions
  /** seq of the last reading handed to the engine */
  private pos: number
  /** replay: raw outputs of readings up to here are already in the outbox */
  private readonly rawPos: number
  /** replay: events of readings up to here are already in the outbox */
  private readonly eventsPos: number
  private replayingSeq = 0
  /** the QoS 0 reading the engine works on (journaled only if it makes an event) */
  private unackedTopic: string | null = null
  private unackedPayload: Buffer | null = null
  /** a journaled reading is in the engine (accept or replay): replay can make its outputs again */
  private journaled = false
  private replayTs: number | null = null
  private replayed = 0
  private resent = 0
  /** the engine's clock: during replay it reads the journaled arrival time, so readings land in their windows */
  readonly clock: Clock

  constructor(opts: DurableIngestOptions) {
    this.opts = opts
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
    this.pos = num((opts.checkpoint as Record<string, unknown> | undefined)?.[JOURNAL_POS_FIELD])
    this.rawPos = num(opts.getState(JOURNAL_RAW_POS_KEY))
    this.eventsPos = num(opts.getState(JOURNAL_EVENTS_POS_KEY))
    this.journal = openJournal({
      dir: opts.dir,
      synchronous: opts.synchronous,
      commitInterval: opts.commitInterval,
      clock: opts.clock,
      // new readings number past every committed position, or a later replay would drop their outputs
      seqFloor: Math.max(this.pos, this.rawPos, this.eventsPos),
    })
    const base = opts.clock
    this.clock = {
      now: () => this.replayTs ?? base.now(),
      setTimeout: (fn, ms) => base.setTimeout(fn, ms),
      clearTimeout: (h) => base.clearTimeout(h),
      setInterval: (fn, ms) => base.setInterval(fn, ms),
      clearInterval: (h) => base.clearInterval(h),
    }
  }

  /** Feed the engine what the journal holds after the checkpoint's position; returns how many readings. */
  replay(): number {
    const n = this.journal.replay(this.pos, (seq, ts, topic, payload) => {
      this.replayingSeq = seq
      this.replayTs = ts
      this.pos = seq
      this.ingestJournaled(topic, payload)
    })
    this.replayingSeq = 0
    this.replayTs = null
    this.replayed = n
    return n
  }

  /** true while replaying a reading whose raw output already reached the outbox before the crash */
  skipRaw(): boolean {
    return this.replayingAtOrBefore(this.rawPos)
  }

  /** true while replaying a reading at or before `pos`: what it produced up to there is already stored */
  replayingAtOrBefore(pos: number): boolean {
    return this.replayingSeq !== 0 && this.replayingSeq <= pos
  }

  /** true while replaying a reading whose events already reached the outbox before the crash */
  skipEvents(): boolean {
    return this.replayingAtOrBefore(this.eventsPos)
  }

  /** The engine's emit, minus raw outputs and events that replay would write a second time. */
  emitter(emit: (outs: EngineOutput[]) => void): (outs: EngineOutput[]) => void {
    return (outs) => {
      const raw = this.skipRaw()
      const events = this.skipEvents()
      if (!raw && !events) return emit(outs)
      emit(outs.filter((o) => !(raw && o.stream === 'raw') && !(events && o.stream === 'event')))
    }
  }

  /**
   * Broker hook for a QoS 1 or 2 publish: journal it, hand it to the engine, `done` (PUBACK, PUBREC) after the
   * commit. A QoS 2 one's packet id is held in the same commit (`qos2Ids`). `now`: the arrival time, when the
   * caller has read the clock already.
   */
  accept(
    topic: string,
    payload: Buffer,
    done: Committed,
    clientId?: string,
    messageId?: number,
    now: number = this.opts.clock.now(),
  ): void {
    if (messageId !== undefined && clientId !== undefined) this.journal.hold(clientId, messageId)
    this.pos = this.journal.append(now, topic, payload, done)
    this.ingestJournaled(topic, payload, now)
  }

  private ingestJournaled(topic: string, payload: Buffer, now?: number): void {
    this.journaled = true
    try {
      this.opts.ingest(topic, payload, now)
    } finally {
      this.journaled = false
    }
  }

  /**
   * Broker hook for a QoS 0 publish: straight to the engine, not journaled, unless it makes an event
   * (`replayable`).
   */
  ingestUnacked(topic: string, payload: Buffer, now?: number): void {
    this.unackedTopic = topic
    this.unackedPayload = payload
    try {
      this.opts.ingest(topic, payload, now)
    } finally {
      this.unackedTopic = null
      this.unackedPayload = null
      this.journaled = false
    }
  }

  /**
   * Whether replay after a crash would rebuild the engine state the current reading's outputs leave (an
   * event's alarm state), so that they need not commit the snapshot. A journaled reading: yes. A QoS 0 one
   * is journaled now, committed at once, before its event's commit: then yes too. Before, its event committed
   * the whole engine snapshot (114 KiB at 1,000 sensors, bench/event-latency.ts). False only when that write
   * fails (the event then commits the snapshot) and with no reading at hand.
   */
  replayable(): boolean {
    if (this.journaled) return true
    if (this.unackedTopic === null) return false
    try {
      this.pos = this.journal.appendNow(this.opts.clock.now(), this.unackedTopic, this.unackedPayload!)
    } catch {
      return false
    }
    this.journaled = true
    return true
  }

  /** the position the engine has consumed up to */
  position(): number {
    return this.pos
  }

  /** An engine snapshot stamped with the position it holds: commit this as the pipeline checkpoint. */
  stamp(snapshot: unknown): unknown {
    return { ...(snapshot as object), [JOURNAL_POS_FIELD]: this.pos }
  }

  /** State to commit with an append that holds raw outputs (cut at the same moment). */
  rawState(): Record<string, number> {
    return { [JOURNAL_RAW_POS_KEY]: this.pos }
  }

  /**
   * State to commit, instead of the snapshot, with an append that holds events of journaled readings (cut when
   * the commit is cut: every reading up to `pos` was handed to the engine, which emits at once, so their
   * events are in this commit or an earlier one).
   */
  eventsState(): Record<string, number> {
    return { [JOURNAL_EVENTS_POS_KEY]: this.pos }
  }

  /** A checkpoint cut at or after `position()` returned `pos` is committed: the journal can forget up to it. */
  committed(pos: number): void {
    if (pos > 0) this.journal.truncate(pos)
  }

  /** The QoS 2 packet ids the journal holds, for the broker (`durableQos2Ids`). */
  qos2Ids(): Qos2Ids {
    const j = this.journal
    return {
      held: (c, m) => j.held(c, m),
      resent: () => {
        this.resent++
      },
      release: (c, m, done) => j.release(c, m, done),
      clear: (c) => j.clear(c),
      durable: (done) => j.sync(done),
    }
  }

  stats(): DurableIngestStats {
    return { ...this.journal.stats(), replayed: this.replayed, position: this.pos, resent: this.resent }
  }

  /** commit what is queued (their PUBACKs go out) and close the file */
  close(): void {
    this.journal.close()
  }
}

/**
 * The node's ingest journal per its config (`ingest.journal`, folder `<dataDir>/journal`), or undefined
 * when it is off — then a journal left by an earlier run is removed, so it can never be replayed later
 * against newer checkpoints.
 * @example const durable = openDurableIngest({ config, clock, getState, ingest: (t, p) => engine.ingest(t, p) })
 */
export function openDurableIngest(o: {
  config: Pick<NodeConfig, 'dataDir' | 'ingest' | 'outbox'>
  clock: Clock
  getState: (key: string) => unknown
  ingest: (topic: string, payload: Buffer, now?: number) => void
}): DurableIngest | undefined {
  const dir = join(o.config.dataDir, 'journal')
  if (!o.config.ingest.journal) {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
  return new DurableIngest({
    dir,
    synchronous: o.config.outbox.synchronous,
    commitInterval: o.config.ingest.commitInterval,
    clock: o.clock,
    checkpoint: o.getState(CHECKPOINT_KEY),
    getState: o.getState,
    ingest: o.ingest,
  })
}

/** Replay what the checkpoint does not hold (before the broker listens), and say how much. */
export function replayJournal(durable: DurableIngest | undefined, log: Logger): void {
  const n = durable?.replay() ?? 0
  if (n > 0) log.info({ replayed: n }, 'ingest journal replayed after the checkpoint')
}

/**
 * The engine's dead-letter hook: a bad reading is set aside with its journal position, and a replayed one
 * the store already holds (at or before the position its last flush stored) is not set aside again.
 */
export function deadLetterOnce(
  store: DeadLetterStore,
  durable: DurableIngest | undefined,
): (d: DeadLetterRow) => void {
  if (!durable) {
    // the journal is off and its files are gone: a later journal numbers from its checkpoint again
    store.forgetJournalPos()
    return (d) => store.add(d)
  }
  const stored = store.journalPos
  return (d) => {
    if (!durable.replayingAtOrBefore(stored)) store.add(d, durable.position())
  }
}
