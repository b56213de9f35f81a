/**
 * bench/event-latency: from a sensor's PUBLISH of an alarm reading to its threshold event stored in the
 * cloud, with every event counted.
 *   - `fogline cloud` from dist/ (embedded broker; SQLite, or PostgreSQL in a fresh database) and
 *     `fogline node` from dist/ with default uplink and outbox settings, the factory-line pipeline with an
 *     alarm threshold (1-min windows);
 *   - the paced background load: 1,000 sensor connections × RATE readings/s, one PUBLISH per write, TCP_NODELAY
 *     (bench/lib/sensors.ts);
 *   - ALARMS alarm readings/s (bench/lib/alarms.ts), each one crossing the limit (enter, then leave), so each
 *     must become exactly one event, keyed by (sensor, reading ts).
 * Latency = the event's received_at in the store (the cloud's clock when it took the batch, just before its
 * commit) − the reading's ts (the publisher's Date.now() at the write); same machine, same clock.
 * An event not in the store, or stored later than DEADLINE ms, is counted as missed and stays in the
 * percentiles as +∞: a p99 past the deadline prints as missed, it is never dropped.
 * Baseline (same run, same moment): each alarm reading is also published to the machine's Mosquitto and
 * timed to a subscriber there — one plain broker hop, no pipeline, no store, no ack: the floor for any path.
 * Run: npm run build && node --conditions=source --import tsx bench/event-latency.ts
 *   FOGLINE_BENCH_SECONDS=60, FOGLINE_BENCH_RATE=10 per sensor connection, FOGLINE_BENCH_QOS=0 (background),
 *   FOGLINE_BENCH_ALARM_QOS=0 (1: the alarms go through the ingest journal, their events skip the snapshot),
 *   FOGLINE_BENCH_ALARMS=20 per second, FOGLINE_BENCH_DEADLINE=5000 ms, FOGLINE_BENCH_STORES=sqlite,postgres,
 *   FOGLINE_BENCH_REPEAT=1
 * Figures from a shared 2-core machine are noisy: compare ratios within one run.
 */
import { join } from 'node:path'
import { mosquittoAvailable, postgresAvailable, runTsChild, tempDir } from '@fogline/testkit'
import {
  freshPgDatabase,
  load,
  msOrMissed,
  percentiles,
  type StoreKind,
  startCliCloud,
  startCliNode,
  startSensors,
  storeReader,
} from './lib/fog.js'
import { alarmLinePipeline } from './lib/pipeline.js'
import { fmt, ioBytes, onLines, ROOT, sleep } from './lib/proc.js'

const env = process.env
const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '60')
const RATE = Number(env['FOGLINE_BENCH_RATE'] ?? '10')
const QOS = env['FOGLINE_BENCH_QOS'] === '1' ? 1 : 0
// read by bench/lib/alarms.ts (the child inherits the environment)
const ALARM_QOS = env['FOGLINE_BENCH_ALARM_QOS'] === '1' ? 1 : 0
const ALARMS = Number(env['FOGLINE_BENCH_ALARMS'] ?? '20')
const DEADLINE = Number(env['FOGLINE_BENCH_DEADLINE'] ?? '5000')
const STORES = (env['FOGLINE_BENCH_STORES'] ?? 'sqlite,postgres').split(',') as StoreKind[]
const REPEAT = Number(env['FOGLINE_BENCH_REPEAT'] ?? '1')
const CONNS = 1000
const WARM = 5

interface Result {
  sent: number
  stored: number
  late: number
  extra: number
  lat: number[]
  hop: number[]
  background: number
  /** bytes the node asked to write per second (wchar): before the alarms (background only), during them */
  wroteQuiet: number
  wroteAlarms: number
}

async function oneRun(kind: StoreKind, dir: string, hop: boolean): Promise<Result> {
  const db = kind === 'postgres' ? await freshPgDatabase() : undefined
  const cloud = await startCliCloud(join(dir, 'cloud'), kind, db?.url)
  const prefix = `fe${Math.random().toString(36).slice(2, 6)}`
  const nodeId = `lat-${prefix}`
  const fog = await startCliNode(join(dir, 'node'), {
    nodeId,
    dataDir: join(dir, 'node', 'data'),
    broker: { host: '127.0.0.1', port: 0, limits: { maxConnections: CONNS + 100 } },
    uplink: { urls: [cloud.url] },
    log: { level: 'warn' },
    pipelines: [alarmLinePipeline('line', prefix, '1m')],
  })
  const reader = storeReader(kind, cloud.where)
  const sensors = await startSensors(fog.host, fog.port, prefix, CONNS, RATE, QOS, SECONDS + WARM + 120)
  try {
    const io0 = { ...ioBytes(fog.proc.pid), t: performance.now() }
    await sleep(WARM * 1000)
    const io1 = { ...ioBytes(fog.proc.pid), t: performance.now() }
    const s0 = sensors.last()
    const args = [fog.host, String(fog.port), prefix, '4', '200', String(ALARMS), String(SECONDS)]
    if (hop) args.push('127.0.0.1', '1883')
    const alarms = runTsChild(join(ROOT, 'bench/lib/alarms.ts'), args)
    const sent: Array<{ key: string; ts: number }> = []
    const hops: number[] = []
    onLines(alarms.child, (l) => {
      const m = /^alarm (\S+) (\d+)/.exec(l)
      if (m) sent.push({ key: `${m[1]} ${m[2]}`, ts: Number(m[2]) })
      const h = /^hop ([\d.]+)/.exec(l)
      if (h) hops.push(Number(h[1]))
    })
    await alarms.exited
    const io2 = { ...ioBytes(fog.proc.pid), t: performance.now() }
    const s1 = sensors.last()
    // whatever arrives after the deadline is missed anyway: wait the deadline, then look
    await sleep(DEADLINE + 500)
    const stored = new Map((await reader.events(nodeId)).map((e) => [`${e.sensor} ${e.ts}`, e.at]))
    const lat = sent.map((s) => {
      const at = stored.get(s.key)
      return at === undefined || at - s.ts > DEADLINE ? Number.POSITIVE_INFINITY : at - s.ts
    })
    const found = sent.filter((s) => stored.has(s.key)).length
    const keys = new Set(sent.map((s) => s.key))
    const extra = [...stored.keys()].filter((k) => k.startsWith('a') && !keys.has(k)).length
    return {
      sent: sent.length,
      stored: found,
      late: lat.filter((x) => !Number.isFinite(x)).length,
      extra,
      lat,
      hop: hops,
      background: ((s1.sent - s0.sent) * 1000) / (s1.t - s0.t),
      wroteQuiet: ((io1.wchar - io0.wchar) * 1000) / (io1.t - io0.t),
      wroteAlarms: ((io2.wchar - io1.wchar) * 1000) / (io2.t - io1.t),
    }
  } finally {
    await sensors.run.kill9()
    await reader.close()
    await fog.stop()
    await cloud.stop()
    await db?.drop()
  }
}

function print(kind: StoreKind, r: Result): void {
  const p = percentiles(r.lat)
  const h = percentiles(r.hop)
  const row = (x: typeof p) =>
    `p50 ${msOrMissed(x.p50, DEADLINE)} | p90 ${msOrMissed(x.p90, DEADLINE)} | p99 ${msOrMissed(x.p99, DEADLINE)} | max ${msOrMissed(x.max, DEADLINE)} ms`
  console.log(
    `  ${kind}: ${fmt(r.sent)} alarm readings sent, ${fmt(r.stored)} events stored, ${r.late} missed (not stored within ${DEADLINE} ms, counted as +inf), ${r.extra} unexpected; background ${fmt(r.background)} readings/s offered`,
  )
  console.log(`    publish -> event stored in the cloud: ${row(p)}`)
  console.log(
    `    node wrote (wchar) ${fmt(r.wroteQuiet / 1024)} KiB/s before the alarms, ${fmt(r.wroteAlarms / 1024)} KiB/s with them = ${fmt((r.wroteAlarms - r.wroteQuiet) / ALARMS / 1024)} KiB more per event`,
  )
  if (r.hop.length) {
    const hr = (x: typeof h) =>
      `p50 ${x.p50.toFixed(2)} | p90 ${x.p90.toFixed(2)} | p99 ${x.p99.toFixed(2)} | max ${x.max.toFixed(2)} ms`
    console.log(`    baseline, one Mosquitto hop (${fmt(r.hop.length)} of ${fmt(r.sent)} timed): ${hr(h)}`)
    const q = (a: number, b: number) => (Number.isFinite(a) ? `${(a / b).toFixed(0)}x` : 'inf')
    console.log(
      `    ratio to the hop: p50 ${q(p.p50, h.p50)} | p90 ${q(p.p90, h.p90)} | p99 ${q(p.p99, h.p99)}`,
    )
  }
}

async function main(): Promise<void> {
  console.log(
    `bench/event-latency — ${ALARMS} alarm readings/s (QoS ${ALARM_QOS}) for ${SECONDS} s under ${CONNS} sensors x ${RATE}/s (QoS ${QOS}), deadline ${DEADLINE} ms. Shared 2-core machine: figures are noisy, compare ratios within one run.`,
  )
  using dir = tempDir('fogline-bench-latency-')
  const hop = await mosquittoAvailable(4)
  if (!hop) console.log('  Mosquitto is not on 127.0.0.1:1883: no hop baseline')
  const pgOk = await postgresAvailable()
  for (let r = 0; r < REPEAT; r++)
    for (const kind of STORES) {
      if (kind === 'postgres' && !pgOk) {
        console.log('  postgres: not on 127.0.0.1:5432, skipped')
        continue
      }
      console.log(`\nrun ${r + 1}, ${kind} (${new Date().toISOString()}, load average ${load()})`)
      print(kind, await oneRun(kind, join(dir.path, `${kind}-${r}`), hop))
      console.log(`  (load average after: ${load()})`)
    }
}

await main()
process.exit(0)
