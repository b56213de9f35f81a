import { fakeClock, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fogSide, startTestCloud, summary } from './helpers.js'

describe('uplink ↔ real cloud contract', () => {
  it('a batch the cloud refuses is dead-lettered there, acked as rejected, and not resent', async () => {
    const d = tempDir('fogline-faults-', onTestFinished)
    const cloud = await startTestCloud(d)
    // the uplink's timers (linger, ack timeout, retries) run on a fake clock that each wait steps
    const clock = fakeClock()
    const { outbox, uplink } = await fogSide(d, [cloud.url], { uplink: { ackTimeout: 300 }, clock })
    const stepping = (cond: () => boolean) => () => {
      clock.advance(10)
      return cond()
    }
    uplink.start()
    await outbox.append([{ stream: 'summary', ts: 1, body: summary(1) }])
    await waitFor(
      stepping(() => outbox.stats().records === 0),
      'the good record delivered',
    )
    // a batch whose every record the cloud cannot store is refused as a whole
    await outbox.append([{ stream: 'summary', ts: 2, body: { not: 'a summary' } }])
    await waitFor(
      stepping(() => outbox.stats().records === 0),
      'the bad record gone from the outbox',
    )
    expect(uplink.stats().rejected).toBe(1)
    expect(cloud.seqs('n1', 'summary')).toEqual([1])
    expect(cloud.deadLetters('n1')).toBe(1)
    // well past ackTimeout (300 ms) on the uplink's clock: nothing is sent again
    const sent = uplink.stats()
    await clock.advanceAsync(1000)
    expect(uplink.stats().resent).toBe(sent.resent)
    expect(cloud.deadLetters('n1')).toBe(1)
  })

  it('the fleet sees the heartbeat, and the last will when the link drops', async () => {
    const d = tempDir('fogline-faults-', onTestFinished)
    const cloud = await startTestCloud(d)
    const { uplink } = await fogSide(d, [cloud.url], {
      heartbeat: () => ({ ts: Date.now(), online: true, group: 'g1', backlogRecords: 42, etaSec: 0 }),
    })
    uplink.start()
    await waitFor(
      async () => (await cloud.cloud.store.getNode('n1'))?.heartbeat?.backlogRecords === 42,
      'heartbeat stored',
    )
    expect((await cloud.cloud.store.getNode('n1'))!.declaredOnline).toBe(true)
    uplink.pause()
    await waitFor(
      async () => (await cloud.cloud.store.getNode('n1'))?.declaredOnline === false,
      'last will stored',
    )
    uplink.resume()
    await waitFor(
      async () => (await cloud.cloud.store.getNode('n1'))?.declaredOnline === true,
      'online again',
    )
  })
})
