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

/** The node's one writer into the outbox. Lifecycle: create → write/checkpoint* → close. */
export interface Writer {
  write(outs: EngineOutput[]): void
  /** commit the engine state now, after every output written before this call */
  checkpoint(): Promise<void>
  stats(): WriterStats
  /** why the last write failed, until a write succeeds again */
  lastError(): ErrorData | null
  /** wait for what is being written; what the outbox still refuses stays unwritten (and is logged) */
  close(): Promise<void>
}

/**
 * The one writer: every engine output goes straight into `outbox.append`, whose group commit is the only
 * batching (it also decides urgency and tells the uplink). A summary carries the engine snapshot as lazy
 * state, read when the commit is cut, so the checkpoint covers exactly the outputs committed with it.
 * A refused append (a full disk) does not lose what was computed: its outputs, and all that follow, are held
 * in memory in order and written again every second, with a snapshot cut at that moment.
 * @example const writer = createWriter({ outbox, snapshot: () => engine.snapshot(), clock, log }); emit = writer.write
 */
export function createWriter(o: WriterOptions): Writer {
  const { outbox, log, clock } = o
  const state = () => ({ [CHECKPOINT_KEY]: o.snapshot() })
  const outputs: Record<string, number> = {}
  const dropped: Record<string, number> = {}
  let held: AppendItem[] | null = null
  let heldState = false
  let waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  let retryTimer: unknown = null
  let last: Promise<unknown> = Promise.resolve()
  let error: ErrorData | null = null
  let closed = false

  // a refused batch of a group commit rejects every append in it, in order, so `held` keeps the order
  const hold = (items: AppendItem[], withState: boolean) => {
    held ??= []
    const room = MAX_HELD - held.length
    if (items.length > room) dropped['disk-full'] = (dropped['disk-full'] ?? 0) + (items.length - room)
    for (let i = 0; i < Math.min(room, items.length); i++) held.push(items[i]!)
    heldState ||= withState
    if (retryTimer === null && !retrying && !closed) retryTimer = clock.setTimeout(retry, RETRY_MS)
  }

  const append = (items: AppendItem[], withState: boolean): Promise<void> => {
    const p = outbox.append(items, withState ? { state } : undefined).then(
      () => {
        error = null
      },
      (err: unknown) => {
        error = toErrorData(err)
        log.error({ err, records: items.length }, 'outbox append failed; will retry')
        hold(items, withState)
        throw err
      },
    )
    last = p.catch(() => {})
    return p
  }

  // while a held batch is being written again, new outputs wait behind it (held), so the snapshot cut for
  // it never covers outputs that are not in it or before it
  let retrying = false
  function retry(): void {
    retryTimer = null
    if (!held || retrying) return
    const items = held
    const withState = heldState
    const done = waiters
    held = []
    heldState = false
    waiters = []
    retrying = true
    const snap = withState ? { [CHECKPOINT_KEY]: o.snapshot() } : undefined
    const p = outbox.append(items, snap ? { state: snap } : undefined).then(
      () => {
        retrying = false
        error = null
        for (const w of done) w.resolve()
        if (held?.length || heldState || waiters.length) retry()
        else held = null
      },
      (err: unknown) => {
        retrying = false
        error = toErrorData(err)
        const later = held ?? []
        const laterState = heldState
        held = null
        heldState = false
        hold(items.concat(later), withState || laterState)
        for (const w of done) w.reject(err)
      },
    )
    last = p
  }

  return {
    write(outs) {
      const items: AppendItem[] = []
      let withState = false
      for (const out of outs) {
        outputs[out.stream] = (outputs[out.stream] ?? 0) + 1
        items.push({ stream: out.stream, ts: out.ts, priority: out.priority, body: out.body })
        // a window closed: its summary and the engine state commit together
        if (out.stream !== 'raw') withState = true
      }
      if (items.length === 0) return
      if (held) hold(items, withState)
      else append(items, withState).catch(() => {})
    },
    checkpoint() {
      if (held) {
        heldState = true
        return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
      }
      return append([], true)
    },
    stats: () => ({ outputs: { ...outputs }, dropped: { ...dropped }, held: held?.length ?? 0 }),
    lastError: () => error,
    async close() {
      closed = true
      if (retryTimer !== null) clock.clearTimeout(retryTimer)
      retryTimer = null
      await last
      if (held?.length)
        log.error(
          { records: held.length, lastError: error },
          'outputs not written at stop (outbox refused writes)',
        )
      for (const w of waiters) w.reject(error)
      waiters = []
    },
  }
}
