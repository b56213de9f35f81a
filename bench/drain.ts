/**
 * bench/drain: a node's backlog drained into the real cloud while live sensor traffic keeps flowing.
 *   - `fogline cloud` from dist/ (embedded broker, SQLite store; then PostgreSQL, a fresh database per run);
 *   - `fogline node` from dist/, its uplink through a fault proxy (testkit) that is cut while the backlog builds;
 *   - 1,000 sensor connections × 1 reading/s (bench/lib/sensors.ts, one PUBLISH per write, TCP_NODELAY) into
 *     the factory-line pipeline with an alarm threshold and 1-s windows: a summary per sensor and second that
 *     passed the deadband (about 550/s; 120 s of cut hold about as many as an hour of 1-min windows), plus
 *     alarm readings (bench/lib/alarms.ts) making threshold events all along.
 * Then the link comes back, sensors and alarms go on: drain time (link back → every record appended before
 * it is in the store), backlog records stored per second, live latency during the drain (event: reading
 * publish → cloud took it; summary: window end → cloud took it), and at the end every record stored once
 * (store rows = seqs 1..N = what the node appended).
 * Baseline (same run): the store's own insertBatch of the same backlog records (read back from the store)
 * in the uplink's batch size, in this process, into a fresh store of the same kind: no MQTT, no node, no
 * live traffic, no acks — the ceiling the drain could reach.
 * Run: npm run build && node --conditions=source --import tsx bench/drain.ts
 *   FOGLINE_BENCH_BUILD=120 seconds of cut, FOGLINE_BENCH_STORES=sqlite,postgres, FOGLINE_BENCH_REPEAT=1,
 *   FOGLINE_BENCH_UPLINK='{"maxInFlight":4}' uplink settings over the defaults
 * Figures from a shared 2-core machine are noisy: compare ratios within one run.
 */
import { join } from 'node:path'
import { openPostgresStore, openSqliteStore, type Store } from '@fogline/cloud'
import type { Batch } from '@fogline/protocol'
import { postgresAvailable, runTsChild, startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import {
  type CliCloud,
  type CliNode,
  freshPgDatabase,
  load,
  percentiles,
  type StoreKind,
  type StoreReader,
  startCliCloud,
  startCliNode,
  startSensors,
  storeReader,
} from './lib/fog.js'
import { alarmLinePipeline } from './lib/pipeline.js'
import { fmt, ROOT, sleep } from './lib/proc.js'

const env = process.env
const BUILD = Number(env['FOGLINE_BENCH_BUILD'] ?? '120')
const STORES = (env['FOGLINE_BENCH_STORES'] ?? 'sqlite,postgres').split(',') as StoreKind[]
const REPEAT = Number(env['FOGLINE_BENCH_REPEAT'] ?? '1')
const CONNS = 1000
const ALARMS_PER_SEC = 20
const BATCH = 500 // the uplink's batchMaxRecords default
/** uplink settings over the defaults, e.g. '{"maxInFlight":4}' (what the backlog may hold in flight ahead of live records) */
const UPLINK = JSON.parse(env['FOGLINE_BENCH_UPLINK'] ?? '{}') as Record<string, unknown>

interface Drain {
  backlog: { summaries: number; events: number }
  drainMs: number
  firstMs: number
  readingsIn: number
  liveEvents: number[]
  liveSummaries: number[]
  exact: string
  storeOnly: number
}

/** the stored summaries read back as wire records, inserted again into a fresh store (the baseline) */
async function storeOnlyRate(kind: StoreKind, dir: string, reader: StoreReader, node: string, n: number) {
  const rows = await reader.summaries(node, n)
  const records = rows.map((r) => ({
    seq: Number(r['seq']),
    ts: Number(r['wstart']),
    body: {
      pipelineId: r['pipeline_id'],
      sensorId: r['sensor_id'],
      metric: r['metric'],
      start: Number(r['wstart']),
      end: Number(r['wend']),
      count: Number(r['cnt']),
      min: r['vmin'],
      max: r['vmax'],
      mean: r['vmean'],
      sum: r['vsum'],
      aggs: typeof r['aggs'] === 'string' ? JSON.parse(r['aggs'] as string) : r['aggs'],
    },
  }))
  const db = kind === 'postgres' ? await freshPgDatabase() : undefined
  const store: Store = db
    ? await openPostgresStore({ url: db.url })
    : await openSqliteStore({ path: join(dir, 'baseline.db') })
  try {
    const t0 = performance.now()
    for (let i = 0; i < records.length; i += BATCH) {
      const batch = { nodeId: node, stream: 'summary', batchId: `b${i}`, sentAt: Date.now() } as const
      await store.insertBatch(
        { ...batch, records: records.slice(i, i + BATCH) } as Batch & { stream: 'summary' },
        Date.now(),
      )
    }
    return (records.length * 1000) / (performance.now() - t0)
  } finally {
    await store.close()
    await db?.drop()
  }
}

/** live latency: events stamped after `from` (reading publish → received), summaries whose window ended after */
async function liveLatency(kind: StoreKind, cloud: CliCloud, node: string, from: number, to: number) {
  const r = storeReader(kind, cloud.where)
  try {
    const ev = (await r.events(node)).filter((e) => e.ts >= from && e.ts < to).map((e) => e.at - e.ts)
    const sm = (await r.summaries(node, 10_000_000))
      .filter((s) => Number(s['wend']) >= from && Number(s['wend']) < to)
      .map((s) => Number(s['received_at']) - Number(s['wend']))
    return { ev, sm }
  } finally {
    await r.close()
  }
}

/** every record once: rows = seqs 1..N = the node's outputs, read from a status line printed after the query */
async function exactlyOnce(fog: CliNode, reader: StoreReader, nodeId: string): Promise<string> {
  // the node writes info events of its own (e.g. when the sensors go): wait for it to settle
  let line = ''
  await waitFor(
    async () => {
      const t = Date.now()
      const s = await reader.seqs('summaries', nodeId)
      const e = await reader.seqs('events', nodeId)
      await waitFor(() => fog.status().t > t + 300, 'status line')
      const st = fog.status()
      const ok = (x: { n: number; min: number; max: number }, want: number) =>
        x.n === want && x.min === 1 && x.max === want
      const good = st.backlog === 0 && ok(s, st.summaries) && ok(e, st.events)
      line = `summaries ${fmt(s.n)} stored of ${fmt(st.summaries)} appended (seq ${s.min}..${s.max}), events ${fmt(e.n)} of ${fmt(st.events)} (seq ${e.min}..${e.max}), node backlog ${st.backlog}: ${good ? 'OK' : 'MISMATCH'}`
      return good
    },
    'every record stored once',
    60_000,
    500,
  ).catch(() => {})
  return line
}

/** link back at t0: when the first backlog record is stored, and when all `backlog` are */
async function awaitDrain(
  reader: StoreReader,
  nodeId: string,
  backlog: { summaries: number; events: number },
  t0: number,
) {
  let firstMs = Number.NaN
  await waitFor(
    async () => {
      const s = await reader.countUpTo('summaries', nodeId, backlog.summaries)
      if (s > 0 && Number.isNaN(firstMs)) firstMs = Date.now() - t0
      return (
        s === backlog.summaries &&
        (await reader.countUpTo('events', nodeId, backlog.events)) === backlog.events
      )
    },
    'backlog stored',
    900_000,
    100,
  )
  return { firstMs, drainMs: Date.now() - t0 }
}

async function startParts(kind: StoreKind, dir: string) {
  const db = kind === 'postgres' ? await freshPgDatabase() : undefined
  const cloud = await startCliCloud(join(dir, 'cloud'), kind, db?.url)
  const proxy = await startFaultProxy(cloud.port)
  proxy.cut()
  const prefix = `fd${Math.random().toString(36).slice(2, 6)}`
  const nodeId = `drain-${prefix}`
  const fog = await startCliNode(join(dir, 'node'), {
    nodeId,
    dataDir: join(dir, 'node', 'data'),
    broker: { host: '127.0.0.1', port: 0, limits: { maxConnections: CONNS + 100 } },
    uplink: { urls: [proxy.url], ...UPLINK },
    log: { level: 'warn' },
    pipelines: [alarmLinePipeline('line', prefix, '1s')],
  })
  const stops: Array<() => Promise<unknown>> = [() => fog.stop(), () => proxy.close(), () => cloud.stop()]
  if (db) stops.push(() => db.drop())
  return { cloud, proxy, fog, prefix, nodeId, stops }
}

async function oneRun(kind: StoreKind, dir: string): Promise<Drain> {
  const { cloud, proxy, fog, prefix, nodeId, stops } = await startParts(kind, dir)
  const reader = storeReader(kind, cloud.where)
  try {
    const life = String(BUILD + 900)
    const sensors = await startSensors(fog.host, fog.port, prefix, CONNS, 1, 0, BUILD + 900)
    const alarms = runTsChild(join(ROOT, 'bench/lib/alarms.ts'), [
      fog.host,
      String(fog.port),
      prefix,
      '4',
      '200',
      String(ALARMS_PER_SEC),
      life,
    ])
    stops.unshift(
      () => sensors.run.kill9(),
      () => alarms.kill9(),
    )
    await alarms.waitForLine(/^connected/)
    await sleep(BUILD * 1000)
    const at = fog.status()
    const backlog = { summaries: at.summaries, events: at.events }
    const t0 = Date.now()
    proxy.pass()
    const { firstMs, drainMs } = await awaitDrain(reader, nodeId, backlog, t0)
    await sleep(3000)
    await sensors.run.kill9()
    await alarms.kill9()
    // live: stamped between the first backlog record stored (the link is up again) and the end of the drain
    const live = await liveLatency(kind, cloud, nodeId, t0 + firstMs, t0 + drainMs)
    const exact = await exactlyOnce(fog, reader, nodeId)
    const storeOnly = await storeOnlyRate(kind, dir, reader, nodeId, backlog.summaries)
    return {
      backlog,
      firstMs,
      drainMs,
      readingsIn: at.readingsIn,
      liveEvents: live.ev,
      liveSummaries: live.sm,
      exact,
      storeOnly,
    }
  } finally {
    await reader.close()
    for (const s of stops) await s().catch(() => {})
  }
}

function print(kind: StoreKind, d: Drain): void {
  const rec = d.backlog.summaries + d.backlog.events
  const rate = (rec * 1000) / d.drainMs
  const p = (xs: number[]) => {
    const q = percentiles(xs)
    return `n=${xs.length} p50 ${q.p50} p90 ${q.p90} p99 ${q.p99} max ${q.max} ms`
  }
  console.log(
    `  ${kind}: backlog ${fmt(d.backlog.summaries)} summaries + ${fmt(d.backlog.events)} events, (${fmt(d.readingsIn)} readings in), first stored ${(d.firstMs / 1000).toFixed(1)} s after the link came back, all in ${(d.drainMs / 1000).toFixed(1)} s = ${fmt(rate)} backlog records/s stored (plus the live traffic)`,
  )
  console.log(
    `    live while it drained (from the first record stored): events (publish → cloud) ${p(d.liveEvents)}; summaries (window end → cloud) ${p(d.liveSummaries)}`,
  )
  console.log(`    exactly once: ${d.exact}`)
  console.log(
    `    baseline, store.insertBatch of the same ${fmt(d.backlog.summaries)} summaries (${BATCH}/batch, no MQTT): ${fmt(d.storeOnly)} records/s -> drain / store-only = ${(rate / d.storeOnly).toFixed(2)}x`,
  )
}

async function main(): Promise<void> {
  console.log(
    `bench/drain — uplink ${JSON.stringify(UPLINK)} over the defaults, ${BUILD} s of backlog (1,000 sensors x 1/s, 1-s windows, ${ALARMS_PER_SEC} alarm readings/s), then the link back with the load still on. Shared 2-core machine: figures are noisy, compare ratios within one run.`,
  )
  using dir = tempDir('fogline-bench-drain-')
  const pgOk = await postgresAvailable()
  for (let r = 0; r < REPEAT; r++)
    for (const kind of STORES) {
      if (kind === 'postgres' && !pgOk) {
        console.log('  postgres: not on 127.0.0.1:5432, skipped')
        continue
      }
      console.log(`\nrun ${r + 1}, ${kind} (${new Date().toISOString()}, load average ${load()})`)
      print(kind, await oneRun(kind, join(dir.path, `${kind}-${r}`)))
      console.log(`  (load average after: ${load()})`)
    }
}

await main()
process.exit(0)
