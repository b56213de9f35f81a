import { startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { expectExactlyOnce, fogSide, startTestCloud, steadyLoad, VERBOSE } from './helpers.js'

const CYCLES = 6
const DOWN_MS = 8000
const UP_MS = 2000

describe('delivery on a flapping link (issue 12)', () => {
  it(`link up ${UP_MS / 1000} s in every ${(UP_MS + DOWN_MS) / 1000} s for a minute: records are acked in every window, default backoff settings`, async () => {
    const d = tempDir('fogline-faults-', onTestFinished)
    const cloud = await startTestCloud(d)
    const proxy = await startFaultProxy(Number(new URL(cloud.url).port))
    onTestFinished(() => proxy.close())
    proxy.cut()
    // the uplink's defaults (reconnect up to 10 s, breaker after 3 failures, 5 s probe): what a gateway runs
    const defaults = {
      reconnect: { min: 250, max: 10_000 },
      probeInterval: 5000,
      breakerThreshold: 3,
      keepalive: 10_000,
      connectTimeout: 3000,
      ackTimeout: 5000,
      heartbeat: 60_000,
    }
    const { outbox, uplink } = await fogSide(d, [proxy.url], { uplink: defaults })
    uplink.start()
    const load = steadyLoad(outbox, { summary: 2 }, 50)
    const perWindow: number[] = []
    // a wall-clock schedule is the point of this test: the link's own timers must catch a real window
    const hold = (ms: number) => new Promise((r) => setTimeout(r, ms)) // chaos pacing: the link's up/down schedule
    for (let i = 0; i < CYCLES; i++) {
      await hold(DOWN_MS)
      const before = uplink.stats().acked
      proxy.pass()
      await hold(UP_MS)
      proxy.cut()
      perWindow.push(uplink.stats().acked - before)
    }
    if (VERBOSE) console.log({ perWindow, stats: uplink.stats() })
    expect(perWindow.every((n) => n > 0)).toBe(true)
    // and nothing is lost or stored twice on the way: drain with the link up, then compare
    await load.stop()
    proxy.pass()
    const last = outbox.lastSeq('summary')
    await waitFor(() => cloud.seqs('n1', 'summary').length >= last, 'the backlog drained', 30_000)
    expectExactlyOnce(cloud.seqs('n1', 'summary'), last)
    // the acked counter counts each record once, resends included
    await waitFor(() => uplink.stats().acked >= last, 'every ack counted', 30_000)
    expect(uplink.stats().acked).toBe(last)
  }, 120_000)
})
