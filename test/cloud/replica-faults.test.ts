import { expect, it } from 'vitest'
import { expectExactlyOnce } from '../faults/helpers.js'
import { until, withBrokerAndPostgres } from './helpers.js'
import { drainAll, type LoadedNode, loadedNodes, NODE_RATE, replicaSet } from './replica-harness.js'

const { run, missing } = await withBrokerAndPostgres()

const NODES = 3
const nodeIds = (tag: string) => Array.from({ length: NODES }, (_, i) => `rf-${tag}-${process.pid}-${i}`)

/** Every record each node made is in PostgreSQL exactly once. */
async function expectExact(set: Awaited<ReturnType<typeof replicaSet>>, nodes: LoadedNode[]): Promise<void> {
  for (const n of nodes) expectExactlyOnce(await set.seqs(n.nodeId), n.outbox.lastSeq('raw'))
}

/** Let the load run until every node has `n` more records acked (progress, not time). */
const acked = (nodes: LoadedNode[], n: number, timeoutMs = 30_000) => {
  const base = nodes.map((x) => x.uplink.stats().acked)
  return until(
    () => nodes.every((x, i) => x.uplink.stats().acked >= base[i]! + n),
    `${n} more records acked on every node`,
    timeoutMs,
  )
}

run(`cloud replicas under faults, with Mosquitto $share and PostgreSQL${missing}`, () => {
  it('rolling restart: SIGTERM each replica in turn under load; no node resends a batch, counts exact', async () => {
    const set = await replicaSet(nodeIds('roll'))
    for (let i = 0; i < 3; i++) await set.start()
    const nodes = await loadedNodes(set)
    await acked(nodes, NODE_RATE)
    for (let i = 0; i < 3; i++) {
      // a graceful stop: unsubscribe, commit and ack what it holds, exit 0; then its successor starts
      expect(await set.replicas[i]!.term()).toBe(0)
      await acked(nodes, NODE_RATE / 2)
      await set.start()
      await acked(nodes, NODE_RATE / 2)
    }
    await drainAll(nodes)
    expect(nodes.map((n) => n.uplink.stats().resent)).toEqual(nodes.map(() => 0))
    await expectExact(set, nodes)
  }, 180_000)

  it('a replica SIGSTOPped for 30 s under load: oldest unacked under 3 s, backlog under 3 s of traffic, exact after SIGCONT', async () => {
    const set = await replicaSet(nodeIds('stop'))
    for (let i = 0; i < 3; i++) await set.start()
    const nodes = await loadedNodes(set)
    await acked(nodes, NODE_RATE)
    const worst = nodes.map(() => ({ oldestMs: 0, backlog: 0 }))
    const sample = setInterval(() => {
      nodes.forEach((n, i) => {
        const s = n.uplink.stats()
        worst[i]!.oldestMs = Math.max(worst[i]!.oldestMs, s.oldestUnsentAgeMs)
        worst[i]!.backlog = Math.max(worst[i]!.backlog, s.backlogRecords)
      })
    }, 50)
    const frozen = set.replicas[1]!.child.proc
    frozen.kill('SIGSTOP')
    try {
      // the fault lasts while the other replicas ack 30 s of every node's traffic (progress, not a sleep):
      // at NODE_RATE records/s that is at least 30 s of a hung replica, then it wakes up
      await acked(nodes, NODE_RATE * 30, 90_000)
    } finally {
      frozen.kill('SIGCONT')
    }
    const overdue = nodes.map((n) => n.uplink.stats().overdueResends)
    await acked(nodes, NODE_RATE)
    clearInterval(sample)
    console.log(
      'SIGSTOP 30 s:',
      JSON.stringify({ worst, overdue, p99: nodes.map((n) => n.uplink.stats().ackLatencyP99Ms) }),
    )
    for (const w of worst) {
      expect(w.oldestMs).toBeLessThan(3000)
      expect(w.backlog).toBeLessThanOrEqual(3 * NODE_RATE)
    }
    // the hung replica did hold batches: they went overdue and other replicas took them
    expect(overdue.every((o) => o > 0)).toBe(true)
    await drainAll(nodes)
    await expectExact(set, nodes)
  }, 180_000)

  it('kill -9 of replicas mid-stream, one, then another, then restarts: every record stored exactly once', async () => {
    const set = await replicaSet(nodeIds('kill'))
    for (let i = 0; i < 3; i++) await set.start()
    const nodes = await loadedNodes(set)
    await acked(nodes, NODE_RATE)
    await set.replicas[0]!.kill9()
    await acked(nodes, NODE_RATE)
    await set.replicas[1]!.kill9()
    await acked(nodes, NODE_RATE)
    await set.start()
    await set.start()
    await acked(nodes, NODE_RATE)
    await drainAll(nodes)
    await expectExact(set, nodes)
  }, 180_000)
})
