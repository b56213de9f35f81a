import type { AppendItem, Outbox } from '@fogline/outbox'
import type { EngineOutput } from '@fogline/pipeline'
import { FoglineError } from '@fogline/protocol'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import { Writer } from '../../src/writer.js'

const silent = { info() {}, warn() {}, error() {}, debug() {} } as never
const summary = (i: number): EngineOutput => ({
  pipelineId: 'p',
  stream: 'summary',
  priority: 1,
  ts: i,
  body: { sensorId: `s${i}` } as never,
})

/** an outbox whose "disk" takes at most `room` records per commit (0: none), recording every commit */
function cappedOutbox() {
  const commits: Array<{ ts: number[]; state: boolean }> = []
  const o = {
    room: 0,
    commits,
    append(items: AppendItem[], opts?: { state?: unknown }): Promise<void> {
      if (items.length > o.room)
        return Promise.reject(
          new FoglineError('FOG_DISK_FULL', 'outbox append: the disk or outbox file is full'),
        )
      commits.push({ ts: items.map((i) => i.ts), state: opts?.state !== undefined })
      return Promise.resolve()
    },
  }
  return o
}

describe('Writer: outputs held while the disk is full', () => {
  it('are written in parts when the freed space cannot take them whole, in order, once each, the state with the last part', async () => {
    const clock = fakeClock()
    const outbox = cappedOutbox()
    let snapshots = 0
    const writer = new Writer({
      outbox: outbox as unknown as Outbox,
      snapshot: () => ({ n: ++snapshots }),
      clock,
      log: silent,
    })
    // the disk is full: 10 summaries, each a commit of its own with the state, refused and held
    for (let i = 0; i < 10; i++) writer.write([summary(i)])
    await clock.advanceAsync(0)
    expect(writer.stats().held).toBe(10)
    expect(writer.lastError()?.code).toBe('FOG_DISK_FULL')
    // space returns, but for 3 records a commit: the retry of all 10 is refused, then halves until parts fit
    outbox.room = 3
    for (let s = 0; s < 10 && writer.stats().held > 0; s++) await clock.advanceAsync(1000)
    expect(writer.stats().held).toBe(0)
    expect(writer.lastError()).toBeNull()
    const written = outbox.commits.flatMap((c) => c.ts)
    expect(written).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // every part but the last went without the engine state, the last with it
    expect(outbox.commits.map((c) => c.state)).toEqual([
      ...outbox.commits.slice(0, -1).map(() => false),
      true,
    ])
    expect(outbox.commits.length).toBeGreaterThan(1)
    // a checkpoint asked for now goes straight in again
    await writer.checkpoint()
    expect(outbox.commits.at(-1)).toEqual({ ts: [], state: true })
    await writer.close()
  })
})
