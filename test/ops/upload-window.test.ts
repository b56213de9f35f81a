import { createUploadGate } from '@fogline/node'
import { openSqliteOutbox } from '@fogline/outbox'
import { UplinkConfig } from '@fogline/protocol'
import { fakeClock, waitFor } from '@fogline/testkit'
import { createUplink } from '@fogline/uplink'
import { describe, expect, it, onTestFinished } from 'vitest'
import { summary } from '../faults/helpers.js'
import { ackingCloud } from '../fleet.js'

const at = (iso: string) => Date.parse(iso)
const event = {
  pipelineId: 'p',
  sensorId: 's1',
  metric: 't',
  ts: 1,
  kind: 'enter',
  name: 'too-hot',
  value: 99,
  severity: 'critical',
}

describe('upload windows (uplink.schedule)', () => {
  it('the backlog drains only inside the window; a bypass event goes at once', async () => {
    const { dir, broker, store } = await ackingCloud('fogline-window-')
    const outbox = await openSqliteOutbox({ path: dir.file('outbox.db'), config: { commitInterval: 2 } })
    onTestFinished(() => outbox.close())

    // the window is decided on the fake clock: a nightly 01:00-05:00 window on a metered link
    const clock = fakeClock(at('2026-12-01T12:00:00Z'))
    const gate = createUploadGate(
      clock,
      {
        windows: [{ cron: '0 1 * * *', duration: 4 * 3_600_000, timezone: 'Etc/UTC' }],
        bypass: ['event', 'reported'],
        clockTrust: 'timesync',
      },
      () => true,
    )
    onTestFinished(() => gate.close())
    let refused = 0
    const up = createUplink({
      nodeId: 'n1',
      group: 'g',
      outbox,
      config: UplinkConfig.parse({ urls: [broker.url], linger: 5, pollInterval: 20 }),
      gate: (s) => {
        const ok = gate.allows(s)
        if (!ok) refused++
        return ok
      },
    })
    onTestFinished(() => up.stop())
    up.start()
    await waitFor(() => up.stats().connected, 'uplink connected')

    await outbox.append(
      Array.from({ length: 50 }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summary(i) })),
    )
    // many pumps asked and were refused: the summaries wait
    const r0 = refused
    await waitFor(() => refused > r0 + 10, 'ten refused pumps')
    expect(store.seqs('n1', 'summary')).toEqual([])
    // an event bypasses the window and goes at once, ahead of the held backlog
    await outbox.append([{ stream: 'event', ts: 1, body: event }])
    await waitFor(() => store.seqs('n1', 'event').length === 1, 'the event stored')
    expect(store.seqs('n1', 'summary')).toEqual([])
    // the store has the event before its ack reaches the node: wait for the ack, then only the summaries wait
    await waitFor(() => up.stats().backlogRecords === 50, 'the event acked, the 50 summaries held')

    clock.set(at('2026-12-02T01:00:00Z')) // the window opens
    await waitFor(() => store.seqs('n1', 'summary').length === 50, 'the backlog drained in the window')
    await waitFor(() => up.stats().backlogRecords === 0, 'all acked')

    clock.set(at('2026-12-02T05:00:00Z')) // and closes again
    await outbox.append([{ stream: 'summary', ts: 99, body: summary(99) }])
    const r1 = refused
    await waitFor(() => refused > r1 + 10, 'ten refused pumps after the window')
    expect(store.seqs('n1', 'summary')).toHaveLength(50)
  })
})
