import { join } from 'node:path'
import { openSqliteOutbox } from '@fogline/outbox'
import type { EngineOutput } from '@fogline/pipeline'
import { systemClock } from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Writer } from '../../src/writer.js'

const silent = { info() {}, warn() {}, error() {}, debug() {} } as never
const out = (stream: 'summary' | 'event', i: number): EngineOutput => ({
  pipelineId: 'p',
  stream,
  priority: stream === 'event' ? 0 : 1,
  ts: i,
  body: { sensorId: `s${i}` } as never,
})

async function setup() {
  const dir = tempDir('fogline-writer-', onTestFinished).path
  // a commit per event-loop turn: the closes below, a turn apart, would each get their own commit
  const outbox = await openSqliteOutbox({ path: join(dir, 'outbox.db'), config: { commitInterval: '0ms' } })
  onTestFinished(() => outbox.close())
  let snapshots = 0
  let records = 0
  outbox.onCommit((c) => {
    records += c.records
  })
  const writer = new Writer({
    outbox,
    snapshot: () => ({ n: ++snapshots }),
    clock: systemClock,
    log: silent,
  })
  return { outbox, writer, snapshots: () => snapshots, records: () => records }
}

describe('Writer: summaries that close together share one engine snapshot', () => {
  it('50 summaries written a turn apart within 100 ms: all committed, with 2 snapshots instead of 50', async () => {
    const w = await setup()
    for (let i = 0; i < 50; i++) {
      w.writer.write([out('summary', i)])
      await new Promise((r) => setImmediate(r))
    }
    await waitFor(() => w.records() === 50, 'all 50 committed')
    // the first goes at once; the 49 closing right after it wait for the next snapshot (STATE_EVERY_MS)
    expect(w.snapshots()).toBe(2)
    await w.writer.close()
  })

  it('an event goes at once and takes the waiting summaries with it', async () => {
    const w = await setup()
    w.writer.write([out('summary', 0)])
    w.writer.write([out('summary', 1)])
    w.writer.write([out('summary', 2)])
    w.writer.write([out('event', 3)])
    await waitFor(() => w.records() === 4, 'all 4 committed')
    // one snapshot for the first summary, one for the event with the two that waited
    expect(w.snapshots()).toBe(2)
    await w.writer.close()
  })

  it('checkpoint() and close() commit what waits (nothing is left in memory)', async () => {
    const w = await setup()
    w.writer.write([out('summary', 0)])
    w.writer.write([out('summary', 1)])
    await w.writer.checkpoint()
    expect(w.records()).toBe(2)
    w.writer.write([out('summary', 2)])
    await w.writer.close()
    await waitFor(() => w.records() === 3, 'the last one committed at close')
  })
})
