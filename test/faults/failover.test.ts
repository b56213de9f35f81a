import { startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { expectExactlyOnce, fogSide, startTestCloud, steadyLoad } from './helpers.js'

describe('failover across cloud endpoints', () => {
  it('primary down → secondary; primary back → returns to it; nothing lost or doubled', async () => {
    const d = tempDir('fogline-faults-', onTestFinished)
    // two cloud replicas, each with its own broker endpoint, on one store (the same SQLite file)
    const primary = await startTestCloud(d)
    const secondary = await startTestCloud(d, { shared: true })
    const proxy = await startFaultProxy(Number(new URL(primary.url).port))
    onTestFinished(() => proxy.close())
    const { outbox, uplink } = await fogSide(d, [proxy.url, secondary.url])
    uplink.start()
    const load = steadyLoad(outbox, { summary: 2, event: 1 }, 20)
    await waitFor(() => uplink.stats().endpoint === proxy.url && uplink.stats().acked > 20, 'on the primary')

    proxy.cut()
    await waitFor(() => uplink.stats().endpoint === secondary.url, 'failed over to the secondary', 10_000)
    const onSecondary = uplink.stats().acked
    await waitFor(() => uplink.stats().acked > onSecondary + 20, 'acks through the secondary')
    // failed probes of the primary open its circuit breaker
    await waitFor(() => uplink.stats().breakers[proxy.url] !== 'closed', 'primary breaker open', 10_000)

    proxy.pass()
    await waitFor(() => uplink.stats().endpoint === proxy.url, 'back on the primary after a probe', 10_000)
    const back = uplink.stats().acked
    await waitFor(() => uplink.stats().acked > back + 20, 'acks through the primary again')
    await load.stop()
    await waitFor(() => outbox.stats().records === 0, 'drained')
    expect(uplink.stats().failovers).toBeGreaterThanOrEqual(2)
    expectExactlyOnce(primary.seqs('n1', 'summary'), outbox.lastSeq('summary'))
    expectExactlyOnce(primary.seqs('n1', 'event'), outbox.lastSeq('event'))
  })
})
