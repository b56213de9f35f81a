import { type Cloud, openSqliteStore, startCloud } from '@fogline/cloud'
import { type AppendItem, type Outbox, type OutboxStream, openSqliteOutbox } from '@fogline/outbox'
import { type Clock, type OutboxConfigInput, UplinkConfig, type UplinkConfigInput } from '@fogline/protocol'
import type { TempDir } from '@fogline/testkit'
import { createUplink, type Uplink } from '@fogline/uplink'
import Database from 'better-sqlite3'
import { expect, onTestFinished } from 'vitest'

const env = process.env
/** FOGLINE_LONG=1: longer fault phases and more kill -9 rounds */
export const LONG = env['FOGLINE_LONG'] === '1'
/** FOGLINE_VERBOSE=1: print what each fault phase did */
export const VERBOSE = env['FOGLINE_VERBOSE'] === '1'

/** Uplink settings that notice faults within a second or two (the defaults are tuned for real links). */
export const FAST: Partial<UplinkConfigInput> = {
  linger: 5,
  pollInterval: 50,
  ackTimeout: 1000,
  keepalive: 1000,
  connectTimeout: 1000,
  reconnect: { min: 50, max: 500 },
  probeInterval: 500,
  heartbeat: 500,
  batchMaxRecords: 200,
  maxInFlight: 4,
}

export async function fogSide(
  d: TempDir,
  urls: string[],
  o: {
    outbox?: OutboxConfigInput
    uplink?: Partial<UplinkConfigInput>
    nodeId?: string
    heartbeat?: () => object
    /** the uplink's clock (a test's fakeClock to step its timers; real time by default) */
    clock?: Clock
  } = {},
): Promise<{ outbox: Outbox; uplink: Uplink }> {
  const outbox = await openSqliteOutbox({
    path: d.file('outbox.db'),
    config: { commitInterval: 2, ...o.outbox },
  })
  const uplink = createUplink({
    nodeId: o.nodeId ?? 'n1',
    group: 'g1',
    outbox,
    config: UplinkConfig.parse({ ...FAST, ...o.uplink, urls }),
    ...(o.heartbeat ? { heartbeat: o.heartbeat } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  })
  onTestFinished(async () => {
    await uplink.stop()
    await outbox.close()
  })
  return { outbox, uplink }
}

export function summary(i: number, sensor = 's1', width = 1000): Record<string, unknown> {
  return {
    pipelineId: 'p1',
    sensorId: sensor,
    metric: 'temp',
    start: i * width,
    end: (i + 1) * width,
    count: 4,
    min: i % 10,
    max: (i % 10) + 3,
    sum: 4 * ((i % 10) + 1.5),
    mean: (i % 10) + 1.5,
  }
}

/** A steady producer: every `everyMs`, `perTick` records per stream, appended like the node does (commits drain). */
export function steadyLoad(
  outbox: Outbox,
  perTick: Partial<Record<OutboxStream, number>>,
  everyMs = 20,
): { stop(): Promise<void>; ticks(): number } {
  let tick = 0
  let chain: Promise<unknown> = Promise.resolve()
  const t = setInterval(() => {
    const items: AppendItem[] = []
    for (const [stream, n] of Object.entries(perTick) as Array<[OutboxStream, number]>)
      for (let k = 0; k < n; k++)
        items.push({
          stream,
          ts: Date.now(),
          body:
            stream === 'summary'
              ? summary(tick * n + k)
              : stream === 'event'
                ? event(tick * n + k)
                : { tick, k, v: Math.sin(tick + k) },
        })
    tick++
    // the outbox's commit drains the uplink by itself; a failed append (disk full) must not break the chain
    chain = chain
      .then(() => outbox.append(items))
      .then(
        () => {},
        () => {},
      )
  }, everyMs)
  onTestFinished(() => clearInterval(t))
  return {
    async stop() {
      clearInterval(t)
      await chain
    },
    ticks: () => tick,
  }
}

/** Every seq the outbox ever assigned for a stream is in the store exactly once, ascending. */
export function expectExactlyOnce(seqs: number[], lastSeq: number): void {
  expect(seqs.length).toBe(lastSeq)
  for (let i = 0; i < seqs.length; i++) if (seqs[i] !== i + 1) expect(seqs[i]).toBe(i + 1)
}

export interface TestCloud {
  cloud: Cloud
  url: string
  /** seqs stored for a node and stream, ascending (read straight from the cloud's SQLite file) */
  seqs(nodeId: string, stream: 'summary' | 'event' | 'raw'): number[]
  deadLetters(nodeId: string): number
}

const TABLES = { summary: 'summaries', event: 'events', raw: 'raw_records' } as const

/** The real cloud (@fogline/cloud): embedded aedes broker on port 0, SQLite store, HTTP on port 0. */
export async function startTestCloud(
  d: TempDir,
  o: { file?: string; shared?: boolean } = {},
): Promise<TestCloud> {
  const file = d.file(o.file ?? 'cloud.db')
  const cloud = await startCloud(
    {
      broker: { embedded: { port: 0 } },
      store: { sqlite: file },
      http: { port: 0 },
      log: { level: 'silent' },
    },
    // a second cloud on the same file stands for a replica behind another broker endpoint
    o.shared ? { store: await openSqliteStore({ path: file }) } : {},
  )
  onTestFinished(() => cloud.stop())
  const q = (sql: string, ...args: unknown[]) => {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    try {
      return db
        .prepare(sql)
        .pluck()
        .all(...args)
    } finally {
      db.close()
    }
  }
  return {
    cloud,
    url: cloud.brokerUrl,
    seqs: (nodeId, stream) =>
      q(`SELECT seq FROM ${TABLES[stream]} WHERE node_id = ? ORDER BY seq`, nodeId) as number[],
    deadLetters: (nodeId) =>
      (q('SELECT count(*) FROM dead_letters WHERE node_id = ?', nodeId)[0] as number) ?? 0,
  }
}

export function event(i: number): Record<string, unknown> {
  return {
    pipelineId: 'p1',
    sensorId: 's1',
    metric: 'temp',
    ts: Date.now(),
    kind: 'enter',
    name: 'hot',
    value: i,
  }
}
