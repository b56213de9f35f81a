import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@fogline/testkit'
import { connect, type MqttClient } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startTestCloud, VERBOSE } from './helpers.js'
import { lastLife, readCount, runNode } from './kill9-shared.js'

const CHECKPOINT_MS = 1000

interface Tally {
  /** PUBLISHes handed to the client */
  sent: number
  /** PUBACKs received: the node said these readings are safe */
  acked: number
  /** the same for the one connection that sends bad readings (not JSON: each must be set aside once) */
  badSent: number
  badAcked: number
}

/**
 * QoS 1 sensors publishing value 1 from several connections, at most `window` unacked per connection
 * (a real sensor's in-flight window), every PUBACK recorded. Each life gets fresh clients: a reading
 * that was not PUBACKed before the kill is not resent, so it may be counted once or not at all.
 */
function publishers(url: string, tally: Tally, conns = 4, window = 16) {
  const clients: MqttClient[] = []
  let stopped = false
  // connections 0..conns-1 send value 1; one more sends readings that are not JSON
  for (let c = 0; c <= conns; c++) {
    const isBad = c === conns
    const cl = connect(url, { protocolVersion: 4, reconnectPeriod: 0, clientId: `q1-${c}-${Math.random()}` })
    cl.on('error', () => {})
    clients.push(cl)
    let inflight = 0
    const pump = () => {
      while (!stopped && cl.connected && inflight < window) {
        inflight++
        if (isBad) tally.badSent++
        else tally.sent++
        cl.publish(`sensors/s${c}/m`, isBad ? 'not json' : '{"value":1}', { qos: 1 }, (err) => {
          inflight--
          if (!err && isBad) tally.badAcked++
          else if (!err) tally.acked++
          // pace: a new reading per PUBACK, on the next turn, so the node is loaded but not flooded
          if (!stopped) setTimeout(pump, 1)
        })
      }
    }
    cl.on('connect', pump)
  }
  return {
    stop() {
      stopped = true
      for (const cl of clients) cl.end(true)
    },
  }
}

/** bad readings the node set aside, from its dead-letter store (counts by code, kept past the row cap) */
const deadLettered = (path: string) => readCount(path, 'SELECT coalesce(sum(n), 0) FROM dead_letter_counts')

async function counted(cloud: Awaited<ReturnType<typeof startTestCloud>>, nodeId: string): Promise<number> {
  const rows = await cloud.cloud.store.querySummaries({ nodeId, limit: 1_000_000 })
  let n = 0
  for (const r of rows) {
    // value 1 everywhere: sum == count, or the pipeline mixed readings up
    expect(r.sum).toBe(r.count)
    n += r.count
  }
  return n
}

async function killLoop(journal: boolean, rounds: number) {
  const d = tempDir('fogline-faults-', onTestFinished)
  const cloud = await startTestCloud(d)
  const nodeId = journal ? 'q1on' : 'q1off'
  const dataDir = join(d.path, 'node')
  const cfg = d.file('node.yaml')
  writeFileSync(
    cfg,
    `nodeId: ${nodeId}
dataDir: ${JSON.stringify(dataDir)}
broker: { host: 127.0.0.1, port: 0 }
ingest: { journal: ${journal} }
checkpoint: { interval: ${CHECKPOINT_MS}ms }
uplink: { urls: ['${cloud.url}'], ackTimeout: 500, reconnect: { min: 20, max: 200 }, linger: 2 }
log: { level: warn }
pipelines:
  - id: c
    input: ['sensors/+/+']
    decoder: { type: json, value: '$.value' }
    stages:
      - { type: window, kind: tumbling, size: 500ms, aggregates: [count, sum] }
    output: { stream: summary }
`,
  )
  const tally: Tally = { sent: 0, acked: 0, badSent: 0, badAcked: 0 }
  const lives: string[] = []
  for (let i = 0; i < rounds; i++) {
    const child = runNode(cfg)
    const line = await child.waitForLine(/sensors publish to mqtt:/, 30_000)
    const pub = publishers(line.slice(line.indexOf('mqtt://')).trim(), tally)
    // random moments: most kills land inside a checkpoint interval, some after one or two checkpoints
    const life = 100 + Math.random() * 1.8 * CHECKPOINT_MS
    const acked0 = tally.acked
    await new Promise((r) => setTimeout(r, life)) // chaos pacing: kill at a random moment of the child's life
    await child.kill9()
    pub.stop()
    lives.push(`${Math.round(life)}ms:${tally.acked - acked0}`)
  }
  // one more life without sensors: replay, windows close, the outbox drains into the cloud
  const records = await lastLife(
    cfg,
    join(dataDir, 'outbox.db'),
    () => counted(cloud, nodeId),
    'the cloud count settled',
  )
  const n = await counted(cloud, nodeId)
  const dead = deadLettered(join(dataDir, 'deadletters.db'))
  if (VERBOSE) console.log({ journal, ...tally, counted: n, dead, records, lives: lives.join(' ') })
  return { ...tally, counted: n, dead, records }
}

describe('kill -9 of a real fogline node under QoS 1 load (issue 12)', () => {
  it('journal on: 20 kills at random moments, every PUBACKed reading is counted exactly once in the cloud', async () => {
    const r = await killLoop(true, 20)
    expect(r.records).toBe(0)
    expect(r.acked).toBeGreaterThan(1000)
    // none lost: everything the node PUBACKed is counted
    expect(r.counted).toBeGreaterThanOrEqual(r.acked)
    // none twice: beyond the PUBACKed, at most the readings in flight at the kills (never resent) may count
    expect(r.counted).toBeLessThanOrEqual(r.sent)
    // bad readings alike: each PUBACKed one set aside, none twice (a replay used to set them aside again)
    expect(r.badAcked).toBeGreaterThan(100)
    expect(r.dead).toBeGreaterThanOrEqual(r.badAcked)
    expect(r.dead).toBeLessThanOrEqual(r.badSent)
  }, 150_000)

  it('journal off: the same kills lose PUBACKed readings (loss > 0 proves the test above can fail)', async () => {
    const r = await killLoop(false, 4)
    expect(r.records).toBe(0)
    expect(r.counted).toBeLessThan(r.acked)
  }, 90_000)
})
