/**
 * bench/cloud-ingest: how fast the cloud stores summaries, against raw inserts of the same rows.
 *   1. SQLite: store.insertBatch (idempotent, one transaction per batch) vs raw better-sqlite3 INSERTs in one transaction per batch
 *   2. PostgreSQL: store.insertBatch vs a raw multi-row INSERT ... unnest per batch (skipped if PostgreSQL is not there)
 *   3. end to end on the embedded broker: publish batches over MQTT, wait for every ack (decode + commit + ack)
 *   4. resends: the same batches again (all duplicates) through store.insertBatch on SQLite
 * Run: node --conditions=source --import tsx bench/cloud-ingest.ts   (FOGLINE_BENCH_SECONDS=3 per case by default)
 * Figures from a shared 2-core machine are noisy: compare the ratios within one run, not across runs.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPostgresStore, openSqliteStore, type Store, startCloud } from '@fogline/cloud'
import { type Batch, decodeAck, downTopic, encodeBatch, upTopic } from '@fogline/protocol'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import pg from 'pg'

const env = process.env
const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '3')
const BATCH = 100
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test'
const dir = mkdtempSync(join(tmpdir(), 'fogline-bench-cloud-'))

function batch(nodeId: string, n: number): Batch & { stream: 'summary' } {
  const records = Array.from({ length: BATCH }, (_, k) => {
    const seq = n * BATCH + k + 1
    const start = 1_767_225_600_000 + seq * 1000
    const mean = 20 + Math.sin(seq / 50)
    return {
      seq,
      ts: start,
      body: {
        pipelineId: 'line-1',
        sensorId: `s-${seq % 40}`,
        metric: 'temperature',
        start,
        end: start + 1000,
        count: 60,
        min: mean - 1,
        max: mean + 1,
        mean,
        sum: mean * 60,
      },
    }
  })
  return { nodeId, stream: 'summary', batchId: `b${n}`, sentAt: Date.now(), records }
}

/** Run `step(i)` for SECONDS, return rows per second. */
async function timed(step: (i: number) => Promise<void> | void): Promise<{ rate: number; batches: number }> {
  const end = performance.now() + SECONDS * 1000
  const t0 = performance.now()
  let i = 0
  while (performance.now() < end) await step(i++)
  return { rate: (i * BATCH) / ((performance.now() - t0) / 1000), batches: i }
}

const table: Array<[string, number, string]> = []
const row = (name: string, rate: number, vs: string) => {
  table.push([name, rate, vs])
  console.log(`${name.padEnd(52)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} rows/s  ${vs}`)
}

async function sqliteCases(): Promise<void> {
  const raw = new Database(join(dir, 'raw.db'))
  raw.pragma('journal_mode = WAL')
  raw.pragma('synchronous = FULL') // as the store: commits survive a power cut
  raw.exec(`CREATE TABLE s (node_id TEXT, seq INTEGER, pipeline_id TEXT, sensor_id TEXT, metric TEXT, wstart INTEGER, wend INTEGER,
    cnt INTEGER, vmin REAL, vmax REAL, vmean REAL, vsum REAL, PRIMARY KEY (node_id, seq)) WITHOUT ROWID`)
  const ins = raw.prepare('INSERT INTO s VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const tx = raw.transaction((b: Batch) => {
    for (const r of b.records) {
      const x = r.body as Record<string, any>
      ins.run(
        b.nodeId,
        r.seq,
        x.pipelineId,
        x.sensorId,
        x.metric,
        x.start,
        x.end,
        x.count,
        x.min,
        x.max,
        x.mean,
        x.sum,
      )
    }
  })
  const base = await timed((i) => void tx(batch('n', i)))
  row('SQLite raw INSERT, 1 tx per 100-row batch (baseline)', base.rate, '1.00x')
  // the same with the store's three query indexes: what the indexes cost, apart from the store's code
  raw.exec('DELETE FROM s')
  raw.exec(
    'CREATE INDEX s1 ON s (sensor_id, metric, wstart); CREATE INDEX s2 ON s (node_id, wstart); CREATE INDEX s3 ON s (wstart)',
  )
  const idx = await timed((i) => void tx(batch('n', i)))
  row('SQLite raw INSERT + the 3 query indexes', idx.rate, `${(idx.rate / base.rate).toFixed(2)}x of raw`)
  raw.close()

  const store = await openSqliteStore({ path: join(dir, 'store.db') })
  const s = await timed(async (i) => void (await store.insertBatch(batch('n', i), Date.now())))
  row('SQLite store.insertBatch', s.rate, `${(s.rate / base.rate).toFixed(2)}x of raw`)
  const dup = await timed(async (i) => void (await store.insertBatch(batch('n', i % s.batches), Date.now())))
  row(
    'SQLite store.insertBatch, resends (all duplicates)',
    dup.rate,
    `${(dup.rate / base.rate).toFixed(2)}x of raw`,
  )
  await store.close()
}

async function pgCases(): Promise<void> {
  const probe = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
  try {
    await probe.connect()
  } catch {
    console.log('PostgreSQL at 127.0.0.1:5432 not reachable: PostgreSQL cases skipped')
    return
  }
  const schema = `fogline_bench_${process.pid}`
  try {
    await probe.query(`CREATE SCHEMA ${schema}`)
    await probe.query(`CREATE TABLE ${schema}.s (node_id TEXT, seq BIGINT, pipeline_id TEXT, sensor_id TEXT, metric TEXT, wstart BIGINT,
      wend BIGINT, cnt BIGINT, vmin FLOAT8, vmax FLOAT8, vmean FLOAT8, vsum FLOAT8, PRIMARY KEY (node_id, seq))`)
    const base = await timed(async (i) => {
      const b = batch('n', i)
      const col = (f: (x: Record<string, any>, seq: number) => unknown) =>
        b.records.map((r) => f(r.body as Record<string, any>, r.seq))
      await probe.query(
        `INSERT INTO ${schema}.s SELECT 'n', * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
          $7::bigint[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])`,
        [
          col((_, q) => q),
          col((x) => x.pipelineId),
          col((x) => x.sensorId),
          col((x) => x.metric),
          col((x) => x.start),
          col((x) => x.end),
          col((x) => x.count),
          col((x) => x.min),
          col((x) => x.max),
          col((x) => x.mean),
          col((x) => x.sum),
        ],
      )
    })
    row('PostgreSQL raw INSERT unnest, 1 statement per batch (baseline)', base.rate, '1.00x')
    const store: Store = await openPostgresStore({ url: PG_URL, schema: `${schema}_store` })
    const s = await timed(async (i) => void (await store.insertBatch(batch('n', i), Date.now())))
    row(
      'PostgreSQL store.insertBatch (1 statement: dedup, counters, NOTIFY)',
      s.rate,
      `${(s.rate / base.rate).toFixed(2)}x of raw`,
    )
    await store.close()
  } finally {
    await probe.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await probe.query(`DROP SCHEMA IF EXISTS ${schema}_store CASCADE`)
    await probe.end()
  }
}

async function endToEnd(): Promise<void> {
  const cloud = await startCloud({
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    store: { sqlite: join(dir, 'e2e.db') },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  })
  const c = await mqtt.connectAsync(cloud.brokerUrl)
  ;(c.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
  let acked = 0
  let wake: (() => void) | null = null
  c.on('message', (_t, p) => {
    decodeAck(p)
    acked++
    wake?.()
  })
  await c.subscribeAsync(downTopic('node-e', 'ack'), { qos: 1 })
  const WINDOW = 8 // batches in flight, like the uplink's maxInFlight
  let sent = 0
  const r = await timed(async (i) => {
    await c.publishAsync(upTopic('node-e', 'summary'), encodeBatch(batch('node-e', i)), { qos: 1 })
    sent++
    while (sent - acked >= WINDOW) await new Promise<void>((res) => (wake = res))
  })
  while (acked < sent) await new Promise<void>((res) => (wake = res))
  row(`end to end over MQTT (embedded aedes, SQLite, ${WINDOW} in flight)`, r.rate, 'acked after commit')
  await c.endAsync()
  await cloud.stop()
}

console.log(`cloud ingest bench: ${BATCH}-record summary batches, ${SECONDS} s per case`)
console.log('figures from a shared machine are noisy: compare the ratios within one run\n')
try {
  await sqliteCases()
  await pgCases()
  await endToEnd()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
