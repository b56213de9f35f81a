import { startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { expectExactlyOnce, fogSide, LONG, startTestCloud, steadyLoad, VERBOSE } from './helpers.js'

const pick = (s: {
  backlogRecords: number
  backlogBytes: number
  oldestUnsentAgeMs: number
  etaSec: number | null
  sent: number
  acked: number
}) => ({
  backlogRecords: s.backlogRecords,
  backlogBytes: s.backlogBytes,
  oldestUnsentAgeMs: s.oldestUnsentAgeMs,
  etaSec: s.etaSec,
  sent: s.sent,
  acked: s.acked,
})

describe('conservation under link faults', () => {
  it(
    'every record produced under cut / blackhole / delay / throttle / close-after-N is stored exactly once, in seq order',
    async () => {
      const d = tempDir('fogline-faults-', onTestFinished)
      // the real cloud (@fogline/cloud): embedded broker, SQLite store, ack after commit
      const cloud = await startTestCloud(d)
      const proxy = await startFaultProxy(Number(new URL(cloud.url).port))
      onTestFinished(() => proxy.close())
      const { outbox, uplink } = await fogSide(d, [proxy.url], {
        heartbeat: () => ({ online: true, ts: Date.now(), ...pick(uplink.stats()) }),
      })
      uplink.start()
      const load = steadyLoad(outbox, { event: 1, summary: 5, raw: 20 }, 20)
      const scale = LONG ? 4 : 1
      const phases: Array<[string, () => void, number]> = [
        ['pass', () => proxy.pass(), 600],
        ['cut (RST)', () => proxy.cut(), 1200],
        ['pass', () => proxy.pass(), 600],
        ['blackhole', () => proxy.blackhole(), 2500],
        ['pass', () => proxy.pass(), 600],
        ['delay 150 ms', () => proxy.shape({ delayMs: 150 }), 1000],
        ['throttle 40 KB/s', () => proxy.shape({ bytesPerSec: 40_000 }), 1500],
        ['close after 30 KB', () => proxy.closeAfter(30_000), 1200],
        ['pass', () => proxy.pass(), 300],
      ]
      const log: string[] = []
      for (const [name, apply, ms] of phases) {
        apply()
        await new Promise((r) => setTimeout(r, ms * scale)) // chaos pacing: each fault phase lasts real time
        const s = uplink.stats()
        log.push(
          `${name}: acked=${s.acked} backlog=${s.backlogRecords} resent=${s.resent} connects=${s.connects}`,
        )
      }
      if (VERBOSE) console.log(log.join('\n'))
      await load.stop()
      await waitFor(() => outbox.stats().records === 0, `outbox drained (${log.join('; ')})`, 30_000)
      for (const stream of ['event', 'summary', 'raw'] as const)
        expectExactlyOnce(cloud.seqs('n1', stream), outbox.lastSeq(stream))
      expect(cloud.deadLetters('n1')).toBe(0)
      const s = outbox.stats()
      expect(s.dropped).toEqual({})
      expect(s.appended).toBe(load.ticks() * 26)
      const u = uplink.stats()
      // the faults did bite: the link was re-established and something was sent twice
      expect(u.connects).toBeGreaterThanOrEqual(3)
      expect(u.resent).toBeGreaterThan(0)
      expect(proxy.stats.resets).toBeGreaterThan(0)
      // the cloud's fleet view got the node's backlog figures from its heartbeat
      const node = await waitFor(async () => {
        const n = await cloud.cloud.store.getNode('n1')
        return n?.heartbeat?.backlogRecords === 0 ? n : null
      }, 'a heartbeat with an empty backlog')
      expect(node.heartbeat!.acked).toBeGreaterThan(0)
    },
    60_000 * (LONG ? 4 : 1),
  )
})
