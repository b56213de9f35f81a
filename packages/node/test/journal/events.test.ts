import { type Outbox, openSqliteOutbox } from '@fogline/outbox'
import { createEngine, type Engine } from '@fogline/pipeline'
import { fakeClock, tempDir } from '@fogline/testkit'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { DurableIngest, JOURNAL_EVENTS_POS_KEY, JOURNAL_POS_FIELD } from '../../src/journal/ingest.js'
import { CHECKPOINT_KEY, Writer } from '../../src/writer.js'

// every reading crosses the limit one way or the other: one event each (enter, then leave)
const PIPELINES = [
  {
    id: 'p',
    input: ['s/+/t'],
    decoder: { type: 'json', value: '$.v', ts: '$.ts', sensorId: 'topic[1]', metric: 'topic[2]' },
    stages: [{ type: 'threshold', name: 'hot', above: 50 }],
    output: [{ stream: 'event' }],
  },
]
const reading = (i: number) => Buffer.from(JSON.stringify({ v: i % 2 === 1 ? 100 : 0, ts: 1000 + i }))

type Dir = ReturnType<typeof tempDir>

/**
 * One node life wired like node.ts `journaledWriter`: outbox, journal, engine restored from its checkpoint,
 * replay. After `crash()` the engine's outputs no longer reach the outbox (the process died before its commit).
 */
async function life(d: Dir, clock: ReturnType<typeof fakeClock>) {
  const outbox: Outbox = await openSqliteOutbox({ path: d.file('outbox.db'), clock })
  let engine: Engine | undefined
  const di = new DurableIngest({
    dir: d.file('journal'),
    synchronous: 'NORMAL',
    commitInterval: 2,
    clock,
    checkpoint: outbox.getState(CHECKPOINT_KEY),
    getState: (k) => outbox.getState(k),
    ingest: (t, p) => engine!.ingest(t, p),
  })
  const writer = new Writer({
    outbox,
    snapshot: () => di.stamp(engine!.snapshot()),
    rawState: () => di.rawState(),
    events: { replayable: () => di.replayable(), state: () => di.eventsState() },
    clock,
    log: pino({ level: 'silent' }),
  })
  const emitted: number[] = []
  let down = false
  const emit = di.emitter((outs) => {
    for (const o of outs) emitted.push(o.ts)
    if (!down) writer.write(outs)
  })
  engine = createEngine(PIPELINES, { clock: di.clock, emit, deadLetter: () => {} })
  const saved = outbox.getState(CHECKPOINT_KEY)
  if (saved !== undefined) engine.restore(saved)
  di.replay()
  const accept = (i: number) => di.accept('s/a/t', reading(i), () => {})
  // a QoS 0 reading, as the broker's onMessage hands it over
  const qos0 = (i: number) => di.ingestUnacked('s/a/t', reading(i))
  /** every event in the outbox, as (reading ts, kind) */
  const events = () => outbox.read('event', 0, 1000).map((r) => `${r.ts}:${r.body.kind}`)
  return {
    outbox,
    writer,
    emitted,
    accept,
    qos0,
    events,
    /** wait until all written so far is committed (the outbox commits in order) */
    settle: () => outbox.append([]),
    crash() {
      down = true
    },
    async close() {
      clock.advance(2) // the journal's group commit
      await writer.close()
      di.close()
      await outbox.close()
    },
  }
}

describe('events commit the journal position, not the snapshot (journal on)', () => {
  it('an event committed before a crash is not emitted again by replay; one not committed is', async () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    const clock = fakeClock(10_000)
    const first = await life(d, clock)
    first.accept(1)
    first.accept(2)
    await first.writer.checkpoint() // snapshot at reading 2
    first.accept(3)
    first.accept(4)
    await first.settle()
    // the events of readings 3 and 4 carried their position, not a newer snapshot
    expect(first.outbox.getState(JOURNAL_EVENTS_POS_KEY)).toBe(4)
    expect(first.outbox.getState<Record<string, unknown>>(CHECKPOINT_KEY)?.[JOURNAL_POS_FIELD]).toBe(2)
    first.crash()
    first.accept(5) // journaled (PUBACKed), its event never reached the outbox
    first.accept(6)
    expect(first.events()).toEqual(['1001:enter', '1002:leave', '1003:enter', '1004:leave'])
    await first.close()

    const second = await life(d, clock)
    // replay ran 3..6 on the snapshot of 2: the events of 3 and 4 are dropped, those of 5 and 6 emitted
    expect(second.emitted).toEqual([1005, 1006])
    await second.settle()
    expect(second.events()).toEqual([
      '1001:enter',
      '1002:leave',
      '1003:enter',
      '1004:leave',
      '1005:enter',
      '1006:leave',
    ])
    // the alarm state replay rebuilt goes on from there
    second.accept(7)
    await second.settle()
    expect(second.events().at(-1)).toBe('1007:enter')
    await second.close()
  })

  it('an event of a QoS 0 reading journals that reading before its commit, which carries its position, not the snapshot; replay keeps its alarm state', async () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    const clock = fakeClock(10_000)
    const first = await life(d, clock)
    first.accept(1)
    await first.settle()
    // reading 2 (a leave) comes at QoS 0; reading 4 (below the limit too, no event) as well
    first.qos0(2)
    first.qos0(4)
    await first.settle()
    expect(first.events()).toEqual(['1001:enter', '1002:leave'])
    // no snapshot was committed: the leave's commit holds the position of reading 2, which the journal holds
    expect(first.outbox.getState(CHECKPOINT_KEY)).toBeUndefined()
    expect(first.outbox.getState(JOURNAL_EVENTS_POS_KEY)).toBe(2)
    first.crash()
    await first.close()

    // replay brings the state after reading 2 back (not alarmed), its leave not emitted again: a reading below
    // the limit makes no second leave, the next one above makes an enter
    const second = await life(d, clock)
    second.qos0(6)
    second.qos0(7)
    await second.settle()
    expect(second.events()).toEqual(['1001:enter', '1002:leave', '1007:enter'])
    await second.close()
  })
})
