import { NodeConfig, parseConfig } from '@fogline/protocol'
import { fakeClock, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  DurableIngest,
  JOURNAL_POS_FIELD,
  JOURNAL_RAW_POS_KEY,
  openDurableIngest,
} from '../../src/journal/ingest.js'

function setup(checkpoint: unknown, state: Record<string, unknown> = {}) {
  const d = tempDir()
  onTestFinished(() => d.remove())
  const clock = fakeClock(10_000)
  const seen: Array<[string, number, boolean]> = []
  const make = (cp: unknown) => {
    const di: DurableIngest = new DurableIngest({
      dir: d.file('journal'),
      synchronous: 'NORMAL',
      commitInterval: 2,
      clock,
      checkpoint: cp,
      getState: (k) => state[k],
      ingest: (topic) => seen.push([topic, di.clock.now(), di.skipRaw()]),
    })
    onTestFinished(() => di.close())
    return di
  }
  return { clock, seen, make: () => make(checkpoint), makeWith: make }
}

describe('durable ingest: journal position in the checkpoint', () => {
  it.each([
    ['NORMAL', true],
    ['FULL', false],
  ] as const)(
    'by default commits per turn of the event loop under %s: %s (FULL waits 2 ms)',
    async (sync, perTurn) => {
      const d = tempDir()
      onTestFinished(() => d.remove())
      const config = parseConfig(NodeConfig, {
        nodeId: 'n1',
        dataDir: d.path,
        uplink: { urls: ['mqtt://127.0.0.1:9'] },
        pipelines: [{ id: 'p', input: ['a/+'] }],
        outbox: { synchronous: sync },
      })
      expect(config.ingest.commitInterval).toBeUndefined()
      const clock = fakeClock(10_000)
      const di = openDurableIngest({ config, clock, getState: () => undefined, ingest: () => {} })!
      onTestFinished(() => di.close())
      let acked = false
      di.accept('s/a/t', Buffer.from('1'), () => {
        acked = true
      })
      // NORMAL: the ack comes with no step of the fake clock. FULL: one turn of the event loop (not time: the
      // turn in which NORMAL commits) leaves it waiting for its 2 ms
      if (perTurn) await waitFor(() => acked, 'the ack without a clock step')
      else await new Promise((r) => setImmediate(r))
      expect(acked).toBe(perTurn)
      clock.advance(2)
      expect(acked).toBe(true)
    },
  )

  it('hands a reading to the engine at once and acknowledges it after the commit', () => {
    const { clock, seen, make } = setup(undefined)
    const di = make()
    let acked = false
    di.accept('s/a/t', Buffer.from('1'), () => {
      acked = true
    })
    expect(seen.map((s) => s[0])).toEqual(['s/a/t'])
    expect(acked).toBe(false)
    clock.advance(2)
    expect(acked).toBe(true)
    expect(di.position()).toBe(1)
    expect(di.stamp({ v: 1 })).toEqual({ v: 1, [JOURNAL_POS_FIELD]: 1 })
  })

  it('replays only what the checkpoint does not hold, on the arrival clock, skipping raw already written', () => {
    const first = setup(undefined)
    const di = first.make()
    for (let i = 0; i < 5; i++) {
      first.clock.advance(100)
      di.accept(`s/${i}/t`, Buffer.from('1'), () => {})
    }
    const cp = di.stamp({ v: 1 }) // holds 1..5
    for (let i = 5; i < 8; i++) {
      first.clock.advance(100)
      di.accept(`s/${i}/t`, Buffer.from('1'), () => {})
    }
    first.clock.advance(2)
    di.close()
    // restart: raw outputs of readings up to 6 were committed before the crash
    first.seen.length = 0
    first.clock.advance(60_000)
    const again = first.makeWith(cp)
    const n = again.replay()
    expect(n).toBe(3)
    expect(first.seen).toEqual([
      ['s/5/t', 10_600, false],
      ['s/6/t', 10_700, false],
      ['s/7/t', 10_800, false],
    ])
    // after replay the engine clock is the real one again
    expect(again.clock.now()).toBe(first.clock.now())
    expect(again.position()).toBe(8)
  })

  it('marks raw outputs of replayed readings up to the committed raw position as already written', () => {
    const state: Record<string, unknown> = {}
    const s = setup(undefined, state)
    const di = s.make()
    for (let i = 0; i < 4; i++) di.accept(`s/${i}/t`, Buffer.from('1'), () => {})
    s.clock.advance(2)
    expect(di.rawState()).toEqual({ [JOURNAL_RAW_POS_KEY]: 4 })
    di.close()
    // the crash came after raw outputs up to reading 2 were committed, before any checkpoint
    state[JOURNAL_RAW_POS_KEY] = 2
    s.seen.length = 0
    s.make().replay()
    expect(s.seen.map((x) => x[2])).toEqual([true, true, false, false])
  })

  it('journals a reading at the time the engine placed it by, so that a replay places it the same', () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    // a clock that moves 1 ms at every read: two reads for one reading would give two times
    const base = fakeClock(10_000)
    let t = 10_000
    const clock = { ...base, now: () => t++ }
    const times: Array<number | undefined> = []
    const open = () =>
      new DurableIngest({
        dir: d.file('journal'),
        synchronous: 'NORMAL',
        commitInterval: 2,
        clock,
        checkpoint: undefined,
        getState: () => undefined,
        ingest: (_t, _p, now) => times.push(now ?? di.clock.now()),
      })
    let di = open()
    di.accept('s/a/t', Buffer.from('1'), () => {})
    di.accept('s/b/t', Buffer.from('2'), () => {}, undefined, undefined, 20_000)
    base.advance(2)
    di.close()
    const live = times.splice(0)
    expect(live[1]).toBe(20_000)
    di = open()
    onTestFinished(() => di.close())
    expect(di.replay()).toBe(2)
    expect(times).toEqual(live)
  })
})
