import { join } from 'node:path'
import { openSqliteOutbox } from '@fogline/outbox'
import { runTsChild, waitFor } from '@fogline/testkit'
import Database from 'better-sqlite3'
import { connect, type MqttClient } from 'mqtt'
import { expect, onTestFinished } from 'vitest'
import type { startTestCloud } from './helpers.js'

// the built node (npm test builds dist/ first): the shipped code, and a start without tsx's compile step
const CLI = 'packages/cli/dist/bin.js'

/** A real `fogline node` child on `cfg`, killed -9 when the test ends. */
export function runNode(cfg: string) {
  const child = runTsChild(CLI, ['node', '--config', cfg, '--status-every', '0'], { plain: true })
  onTestFinished(() => child.kill9())
  return child
}

/** one number from a node's SQLite file, read beside the running node (WAL allows a reader) */
export function readCount(path: string, sql: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).pluck().get() as number
  } finally {
    db.close()
  }
}

/** records still in the node's outbox */
const backlog = (outboxPath: string) => readCount(outboxPath, 'SELECT count(*) FROM records')

/**
 * One more life without sensors: replay, windows close, the outbox drains into the cloud; waits until
 * `count()` (what the cloud holds) settles with the outbox empty, kills the node, and returns the records
 * its outbox still holds.
 */
export async function lastLife(cfg: string, outboxPath: string, count: () => Promise<number>, what: string) {
  const last = runNode(cfg)
  await last.waitForLine(/sensors publish to mqtt:/, 30_000)
  let prev = -1
  await waitFor(
    async () => {
      const n = await count()
      const settled = n === prev && backlog(outboxPath) === 0
      prev = n
      return settled && n > 0
    },
    what,
    30_000,
    1500,
  )
  await last.kill9()
  const ob = await openSqliteOutbox({ path: outboxPath })
  const records = ob.stats().records
  await ob.close()
  return records
}

export interface Tally {
  /** PUBLISHes handed to the client */
  sent: number
  /** PUBACKs received: the node said these readings are safe */
  acked: number
  /** the same for the one connection that sends bad readings (not JSON: each must be set aside once) */
  badSent: number
  badAcked: number
  /** with `metric`: sent and PUBACKed per metric, and when each PUBACK came (ms) */
  byMetric?: Map<string, { sent: number; acked: number }>
}

/**
 * QoS 1 sensors publishing value 1 from several connections, at most `window` unacked per connection
 * (a real sensor's in-flight window), every PUBACK recorded (`qos: 2`: every PUBCOMP, which comes after the
 * PUBREC that says the node took the reading). Each life gets fresh clients: a reading
 * that was not PUBACKed before the kill is not resent, so it may be counted once or not at all.
 */
export function publishers(
  url: string,
  tally: Tally,
  o: { conns?: number; window?: number; metric?: () => string; qos?: 1 | 2 } = {},
) {
  const { conns = 4, window = 16, metric, qos = 1 } = o
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
        const m = metric?.() ?? 'm'
        const per = metric && !isBad ? perMetric(tally, m) : undefined
        if (per) per.sent++
        cl.publish(`sensors/s${c}/${m}`, isBad ? 'not json' : '{"value":1}', { qos }, (err) => {
          inflight--
          if (!err && isBad) tally.badAcked++
          else if (!err) tally.acked++
          if (!err && per) per.acked++
          // a new reading per PUBACK, on the next turn, so the node is loaded but not flooded
          if (!stopped) setTimeout(pump, 1) // chaos pacing: the load the kills cut into, not a wait
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

function perMetric(tally: Tally, m: string): { sent: number; acked: number } {
  tally.byMetric ??= new Map()
  let per = tally.byMetric.get(m)
  if (!per) tally.byMetric.set(m, (per = { sent: 0, acked: 0 }))
  return per
}

/** bad readings the node set aside, from its dead-letter store (counts by code, kept past the row cap) */
export const deadLettered = (path: string) =>
  readCount(path, 'SELECT coalesce(sum(n), 0) FROM dead_letter_counts')

export async function counted(
  cloud: Awaited<ReturnType<typeof startTestCloud>>,
  nodeId: string,
  metric?: string,
): Promise<number> {
  const rows = await cloud.cloud.store.querySummaries({ nodeId, metric, limit: 1_000_000 })
  let n = 0
  for (const r of rows) {
    // value 1 everywhere: sum == count, or the pipeline mixed readings up
    expect(r.sum).toBe(r.count)
    n += r.count
  }
  return n
}

/**
 * A node config that counts: value-1 readings on `sensors/+/+` into 500-ms windows of count and sum (so sum ==
 * count), checkpoints every `checkpointMs`, an uplink that reconnects fast; `extra` is more YAML (ingest, outbox).
 */
export function countingNodeYaml(o: {
  nodeId: string
  dataDir: string
  cloudUrl: string
  checkpointMs: number
  extra: string
}): string {
  return `nodeId: ${o.nodeId}
dataDir: ${JSON.stringify(o.dataDir)}
broker: { host: 127.0.0.1, port: 0 }
${o.extra}
checkpoint: { interval: ${o.checkpointMs}ms }
uplink: { urls: ['${o.cloudUrl}'], ackTimeout: 500, reconnect: { min: 20, max: 200 }, linger: 2 }
log: { level: warn }
pipelines:
  - id: c
    input: ['sensors/+/+']
    decoder: { type: json, value: '$.value' }
    stages:
      - { type: window, kind: tumbling, size: 500ms, aggregates: [count, sum] }
    output: { stream: summary }
`
}

/**
 * The counting node on `cfg` (countingNodeYaml) killed -9 `rounds` times at random moments under the load of
 * `publishers`, then one more life without sensors in which it replays and drains into the cloud. With
 * `power`, every life runs on a disk it powers on, and every kill is followed by that disk's power cut.
 * Returns the tally, what the cloud counted, the bad readings set aside and the records left in the outbox.
 */
export async function killLives(o: {
  cloud: Awaited<ReturnType<typeof startTestCloud>>
  cfg: string
  nodeId: string
  dataDir: string
  rounds: number
  checkpointMs: number
  /** the shortest life, ms; each is this plus up to 1.8 checkpoint intervals */
  minLifeMs: number
  qos?: 1 | 2
  power?: () => Promise<{ cut(): Promise<void> }>
}) {
  const tally: Tally = { sent: 0, acked: 0, badSent: 0, badAcked: 0 }
  const noPower = { cut: async () => {} }
  const lives: string[] = []
  for (let i = 0; i < o.rounds; i++) {
    const disk = o.power ? await o.power() : noPower
    const child = runNode(o.cfg)
    const line = await child.waitForLine(/sensors publish to mqtt:/, 30_000)
    const pub = publishers(line.slice(line.indexOf('mqtt://')).trim(), tally, { qos: o.qos ?? 1 })
    // random moments: most kills land inside a checkpoint interval, some after one or two checkpoints
    const life = o.minLifeMs + Math.random() * 1.8 * o.checkpointMs
    const acked0 = tally.acked
    await new Promise((r) => setTimeout(r, life)) // chaos pacing: kill at a random moment of the node's life
    await child.kill9()
    await disk.cut()
    pub.stop()
    lives.push(`${Math.round(life)}ms:${tally.acked - acked0}`)
  }
  // one more life without sensors (the power back for good): replay, windows close, the outbox drains
  const disk = o.power ? await o.power() : noPower
  const count = () => counted(o.cloud, o.nodeId)
  const records = await lastLife(o.cfg, join(o.dataDir, 'outbox.db'), count, 'the cloud count settled')
  const dead = deadLettered(join(o.dataDir, 'deadletters.db'))
  await disk.cut()
  return { ...tally, counted: await count(), dead, records, lives: lives.join(' ') }
}
