import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import { AGGREGATES, nodeConfigFile, testCloud } from '../fleet.js'
import { nodeChild, tempDir, until } from './helpers.js'

const WINDOW_MS = 20_000
// event time: the readings carry their ts, so the window is fixed by the data, not by when the test runs
const windowStart = 1_767_225_600_000

describe('checkpoint: the node is killed (-9) mid-window and restarted', () => {
  it('resumes the open window so it completes with the readings from before and after the kill', async () => {
    const dir = tempDir()
    const cloud = await testCloud(dir)
    const file = nodeConfigFile(dir, 'node-k', cloud.brokerUrl, {
      checkpoint: { interval: '100ms' },
      pipelines: [
        {
          id: 'temps',
          input: ['sensors/+/+'],
          decoder: { type: 'json', value: '$.value', ts: '$.ts' },
          stages: [
            {
              type: 'window',
              kind: 'tumbling',
              size: `${WINDOW_MS}ms`,
              time: 'event',
              aggregates: AGGREGATES,
            },
          ],
        },
      ],
    })
    // readings one second apart from the window's start, in the order given
    let at = windowStart
    const publish = async (url: string, values: number[]) => {
      const c = await mqtt.connectAsync(url)
      for (const v of values)
        await c.publishAsync('sensors/s1/temperature', JSON.stringify({ value: v, ts: (at += 1000) }), {
          qos: 1,
        })
      await c.endAsync()
    }
    const a = await nodeChild(file)
    await publish(a.url, [1, 2, 3, 4, 5])
    // no wait for a checkpoint: a QoS 1 PUBACK comes after the node's ingest journal has the reading on disk,
    // so a kill right after the last PUBACK loses nothing (the restart replays the journal past the checkpoint)
    a.child.proc.kill('SIGKILL')
    await a.child.exited

    const b = await nodeChild(file)
    await publish(b.url, [10, 20, 30])
    // a reading in the next window moves the watermark past this one's end, which closes it
    at = windowStart + WINDOW_MS
    await publish(b.url, [99])
    const rows = await until(async () => {
      const r = await cloud.store.querySummaries({ nodeId: 'node-k' })
      return r.length > 0 ? r : null
    }, 'the resumed window closes and is stored')
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      count: 8,
      min: 1,
      max: 30,
      sum: 75,
      start: windowStart,
      end: windowStart + WINDOW_MS,
    })
    b.child.proc.kill('SIGTERM')
    await b.child.exited
  }, 60_000)
})
