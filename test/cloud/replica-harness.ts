import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Outbox } from '@fogline/outbox'
import { type TempDir, tempDir as tkTempDir } from '@fogline/testkit'
import type { Uplink } from '@fogline/uplink'
import pg from 'pg'
import { onTestFinished } from 'vitest'
import { type Child, runCli } from '../e2e/helpers.js'
import { FAST, fogSide, steadyLoad } from '../faults/helpers.js'
import { freshDatabase, MOSQUITTO_URL, rand, until } from './helpers.js'

/** Records per second each node makes (raw stream), the traffic the backlog bounds are stated in. */
export const NODE_RATE = 200

/** One aggregator replica: `fogline cloud` (the built CLI) in a child process. */
export interface Replica {
  child: Child
  httpUrl: string
  /** SIGTERM, then its exit code */
  term(): Promise<number | null>
  kill9(): Promise<void>
}

export interface ReplicaSet {
  dir: TempDir
  pgUrl: string
  nodes: string[]
  replicas: Replica[]
  start(): Promise<Replica>
  /** every seq stored for a node's raw stream, ascending */
  seqs(nodeId: string): Promise<number[]>
}

/**
 * Replicas of one cloud on the machine's Mosquitto ($share group and filters of this test only) and a fresh
 * PostgreSQL database. Lifecycle: replicaSet → start()* → (faults) → the test's end stops what is left.
 */
export async function replicaSet(nodes: string[]): Promise<ReplicaSet> {
  const dir = tkTempDir('fogline-replicas-', onTestFinished)
  const pgUrl = await freshDatabase()
  const tag = rand()
  const config = join(dir.path, 'cloud.yaml')
  writeFileSync(
    config,
    JSON.stringify({
      broker: {
        url: MOSQUITTO_URL,
        shareGroup: `replicas-${tag}`,
        filters: nodes.map((id) => `fogline/v1/${id}/up/#`),
      },
      store: { postgres: pgUrl },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
    }),
  )
  const db = new pg.Client({ connectionString: pgUrl })
  await db.connect()
  onTestFinished(() => db.end())
  const set: ReplicaSet = {
    dir,
    pgUrl,
    nodes,
    replicas: [],
    async start() {
      const child = runCli(['cloud', '--config', config], { built: true })
      const httpUrl = await until(
        () => /API and dashboard at (http:\/\/\S+)/.exec(child.out())?.[1],
        `replica started (stderr: ${child.err()})`,
        30_000,
      )
      await until(async () => (await fetch(`${httpUrl}/readyz`)).status === 200, 'replica ready', 15_000)
      const r: Replica = {
        child,
        httpUrl,
        async term() {
          child.proc.kill('SIGTERM')
          return child.exited
        },
        async kill9() {
          child.proc.kill('SIGKILL')
          await child.exited
        },
      }
      set.replicas.push(r)
      return r
    },
    async seqs(nodeId) {
      const rows = await db.query('SELECT seq FROM raw_records WHERE node_id = $1 ORDER BY seq', [nodeId])
      return rows.rows.map((r) => Number(r.seq))
    },
  }
  return set
}

export interface LoadedNode {
  nodeId: string
  outbox: Outbox
  uplink: Uplink
  load: ReturnType<typeof steadyLoad>
}

/** Fog nodes (outbox + uplink, in process) on Mosquitto, each appending NODE_RATE raw records a second. */
export async function loadedNodes(set: ReplicaSet): Promise<LoadedNode[]> {
  const out: LoadedNode[] = []
  for (const nodeId of set.nodes) {
    const d = tkTempDir(`fogline-${nodeId}-`, onTestFinished)
    const { outbox, uplink } = await fogSide(d, [MOSQUITTO_URL], {
      nodeId,
      // the real ack timeout (5 s): the ack deadline comes from the observed latency
      uplink: { ...FAST, ackTimeout: 5000, linger: 50, maxInFlight: 16, batchMaxRecords: 100 },
    })
    uplink.start()
    out.push({ nodeId, outbox, uplink, load: steadyLoad(outbox, { raw: NODE_RATE / 50 }, 20) })
  }
  return out
}

/** Stop the load, wait until every node's outbox is empty (all acked). */
export async function drainAll(nodes: LoadedNode[]): Promise<void> {
  for (const n of nodes) await n.load.stop()
  await until(() => nodes.every((n) => n.outbox.stats().records === 0), 'every outbox drained', 60_000)
}
