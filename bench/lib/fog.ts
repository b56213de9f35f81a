/**
 * What the end-to-end benches run, as shipped: `fogline cloud` and `fogline node` from the built CLI
 * (packages/cli/dist/bin.js) as plain Node children, a fresh PostgreSQL database per run, read access to the
 * cloud store (SQLite file or PostgreSQL) to count what was stored, and the sensor load as a child.
 * Lifecycle of each: start → use → stop (SIGTERM: the CLI stops cleanly).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { type ChildRun, pgDatabase, runTsChild } from '@fogline/testkit'
import Database from 'better-sqlite3'
import pg from 'pg'
import { onLines, type Plain, ROOT, spawnPlain } from './proc.js'
import { gatewayNodeFlags } from './unit.js'

export const CLI = join(ROOT, 'packages/cli/dist/bin.js')
export const SENSORS = join(ROOT, 'bench/lib/sensors.ts')
/** the V8 options the shipped gateway unit gives the node (deploy/fogline-node.service NODE_OPTIONS) */
export const NODE_FLAGS = gatewayNodeFlags()
export const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')

export type StoreKind = 'sqlite' | 'postgres'

/** A new, empty PostgreSQL database (random name) for one run; dropped by `drop()`. */
export async function freshPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  let drop = async () => {}
  const url = await pgDatabase((d) => {
    drop = d
  }, 'fogbench')
  return { url, drop: () => drop() }
}

/** Read-only queries on the cloud store the CLI cloud writes (the bench never writes to it). */
export interface StoreReader {
  /** rows, lowest seq, highest seq of a table for one node */
  seqs(table: 'summaries' | 'events', nodeId: string): Promise<{ n: number; min: number; max: number }>
  /** rows with seq <= upTo */
  countUpTo(table: 'summaries' | 'events', nodeId: string, upTo: number): Promise<number>
  /** events: sensor id, reading ts, when the cloud took the batch (received_at) */
  events(nodeId: string): Promise<Array<{ sensor: string; ts: number; at: number; kind: string }>>
  /** summaries as stored: what the store baseline inserts again */
  summaries(nodeId: string, limit: number): Promise<Array<Record<string, unknown>>>
  close(): Promise<void>
}

export function storeReader(kind: StoreKind, where: string): StoreReader {
  if (kind === 'sqlite') {
    let db: Database.Database | null = null
    // the cloud creates the file at start; open lazily, read-only (WAL lets the writer go on)
    const q = () => (db ??= new Database(where, { readonly: true, fileMustExist: true }))
    return {
      seqs: async (t, node) =>
        q()
          .prepare(
            `SELECT count(*) AS n, coalesce(min(seq),0) AS min, coalesce(max(seq),0) AS max FROM ${t} WHERE node_id = ?`,
          )
          .get(node) as { n: number; min: number; max: number },
      countUpTo: async (t, node, upTo) =>
        q()
          .prepare(`SELECT count(*) FROM ${t} WHERE node_id = ? AND seq <= ?`)
          .pluck()
          .get(node, upTo) as number,
      events: async (node) =>
        q()
          .prepare('SELECT sensor_id AS sensor, ts, received_at AS at, kind FROM events WHERE node_id = ?')
          .all(node) as Array<{ sensor: string; ts: number; at: number; kind: string }>,
      summaries: async (node, limit) =>
        q()
          .prepare('SELECT * FROM summaries WHERE node_id = ? ORDER BY seq LIMIT ?')
          .all(node, limit) as Array<Record<string, unknown>>,
      close: async () => db?.close(),
    }
  }
  const pool = new pg.Pool({ connectionString: where, max: 2 })
  const num = (x: unknown) => Number(x ?? 0)
  return {
    async seqs(t, node) {
      const r = await pool.query(
        `SELECT count(*) AS n, min(seq) AS min, max(seq) AS max FROM ${t} WHERE node_id = $1`,
        [node],
      )
      return { n: num(r.rows[0].n), min: num(r.rows[0].min), max: num(r.rows[0].max) }
    },
    async countUpTo(t, node, upTo) {
      const r = await pool.query(`SELECT count(*) AS n FROM ${t} WHERE node_id = $1 AND seq <= $2`, [
        node,
        upTo,
      ])
      return num(r.rows[0].n)
    },
    async events(node) {
      const r = await pool.query(
        'SELECT sensor_id AS sensor, ts, received_at AS at, kind FROM events WHERE node_id = $1',
        [node],
      )
      return r.rows.map((x) => ({ sensor: x.sensor, ts: num(x.ts), at: num(x.at), kind: x.kind }))
    },
    async summaries(node, limit) {
      const r = await pool.query('SELECT * FROM summaries WHERE node_id = $1 ORDER BY seq LIMIT $2', [
        node,
        limit,
      ])
      return r.rows
    },
    close: () => pool.end(),
  }
}

export interface CliCloud {
  proc: Plain
  /** mqtt://host:port nodes uplink to */
  url: string
  port: number
  kind: StoreKind
  /** SQLite path or PostgreSQL URL */
  where: string
  stop(): Promise<void>
}

/** `fogline cloud` from dist/: embedded broker and HTTP on port 0, the given store. */
export async function startCliCloud(dir: string, kind: StoreKind, pgUrl?: string): Promise<CliCloud> {
  mkdirSync(dir, { recursive: true })
  const where = kind === 'sqlite' ? join(dir, 'cloud.db') : pgUrl!
  const cfg = join(dir, 'cloud.yaml')
  writeFileSync(
    cfg,
    JSON.stringify({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: kind === 'sqlite' ? { sqlite: where } : { postgres: where },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
    }),
  )
  const proc = spawnPlain([CLI, 'cloud', '--config', cfg], dir)
  const m = await proc.line(/nodes uplink to (mqtt:\/\/[\d.]+:(\d+))/, 60_000)
  return { proc, url: m[1]!, port: Number(m[2]), kind, where, stop: () => proc.stop('SIGTERM') }
}

/** The node's status line (packages/cli/src/commands/node.ts), as numbers. */
export interface NodeStatusLine {
  t: number
  readingsIn: number
  summaries: number
  events: number
  backlog: number
  sent: number
  acked: number
  online: boolean
}
const STATUS =
  /in=(\d+) \(\d+\/s\) summaries=(\d+) events=(\d+) backlog=(\d+) sent=(\d+) acked=(\d+) (online|OFFLINE)/

export interface CliNode {
  proc: Plain
  host: string
  port: number
  status(): NodeStatusLine
  stop(): Promise<void>
}

/** `fogline node` from dist/ with the gateway unit's NODE_OPTIONS; a status line every 250 ms. */
export async function startCliNode(dir: string, config: Record<string, unknown>): Promise<CliNode> {
  mkdirSync(dir, { recursive: true })
  const cfg = join(dir, 'node.yaml')
  writeFileSync(cfg, JSON.stringify(config))
  const proc = spawnPlain([...NODE_FLAGS, CLI, 'node', '--config', cfg, '--status-every', '0.25'], dir)
  let last: NodeStatusLine = {
    t: Date.now(),
    readingsIn: 0,
    summaries: 0,
    events: 0,
    backlog: 0,
    sent: 0,
    acked: 0,
    online: false,
  }
  onLines(proc.child, (l) => {
    const m = STATUS.exec(l)
    if (!m) return
    const n = m.slice(1, 7).map(Number)
    last = {
      t: Date.now(),
      readingsIn: n[0]!,
      summaries: n[1]!,
      events: n[2]!,
      backlog: n[3]!,
      sent: n[4]!,
      acked: n[5]!,
      online: m[7] === 'online',
    }
  })
  const m = await proc.line(/sensors publish to mqtt:\/\/([\d.]+):(\d+)/, 60_000)
  return { proc, host: m[1]!, port: Number(m[2]), status: () => last, stop: () => proc.stop('SIGTERM') }
}

export interface SensorLoad {
  run: ChildRun
  last(): { sent: number; acks: number; t: number }
}

/** bench/lib/sensors.ts as a child: `conns` connections × `perSec`, one PUBLISH per write. */
export async function startSensors(
  host: string,
  port: number,
  prefix: string,
  conns: number,
  perSec: number,
  qos: 0 | 1,
  seconds: number,
): Promise<SensorLoad> {
  const run = runTsChild(SENSORS, [
    host,
    String(port),
    prefix,
    String(conns),
    String(perSec),
    String(qos),
    String(seconds),
  ])
  let last = { sent: 0, acks: 0, t: Date.now() }
  onLines(run.child, (l) => {
    const m = /^sent (\d+) (\d+) (\d+)/.exec(l)
    if (m) last = { sent: Number(m[1]), acks: Number(m[2]), t: Number(m[3]) }
  })
  await run.waitForLine(/^connected/, 120_000)
  return { run, last: () => last }
}

/** p50/p90/p99/max of a list in which a missed item is +Infinity (so it stays in the statistics) */
export function percentiles(xs: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? Number.NaN
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] ?? Number.NaN }
}
export const msOrMissed = (x: number, deadline: number) =>
  Number.isFinite(x) ? x.toFixed(0).padStart(5) : `>${deadline} (missed)`
