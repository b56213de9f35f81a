/**
 * bench/soak: the fog node (built CLI) under the paced real-sensor load for an hour, RSS and open file
 * descriptors sampled over time. Opt-in (it takes an hour): not part of npm test.
 * Run: npm run build && node --conditions=source --import tsx bench/soak.ts
 *   FOGLINE_SOAK_MINUTES=60, FOGLINE_SOAK_QOS=1, FOGLINE_BENCH_CONNS=1000, FOGLINE_BENCH_RATE=10,
 *   FOGLINE_SOAK_EVERY=30 seconds between samples.
 * Pass: RSS growth after the warm-up (the first tenth) < 5 % (median of the first vs the last tenth of the
 * remaining samples), no growth in file descriptors.
 * On a shared machine RSS moves with GC timing; look at the trend, not one sample.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { runTsChild, tempDir } from '@fogline/testkit'
import { factoryLinePipeline } from './lib/pipeline.js'
import { cpuMs, fdCount, fmt, machine, ROOT, rssMiB, sleep, spawnPlain, track } from './lib/proc.js'
import { gatewayNodeFlags } from './lib/unit.js'

const env = process.env
const MINUTES = Number(env['FOGLINE_SOAK_MINUTES'] ?? '60')
const QOS = env['FOGLINE_SOAK_QOS'] ?? '1'
const CONNS = Number(env['FOGLINE_BENCH_CONNS'] ?? '1000')
const RATE = Number(env['FOGLINE_BENCH_RATE'] ?? '10')
const EVERY = Number(env['FOGLINE_SOAK_EVERY'] ?? '30')

using dir = tempDir('fogline-soak-')
const cloud = await startCloud({
  broker: { embedded: { port: 0 } },
  store: { sqlite: join(dir.path, 'cloud.db') },
  http: { port: 0 },
  log: { level: 'silent' },
})
mkdirSync(join(dir.path, 'node'), { recursive: true })
const cfg = join(dir.path, 'node.json')
writeFileSync(
  cfg,
  JSON.stringify({
    nodeId: 'soak',
    dataDir: join(dir.path, 'node'),
    broker: { host: '127.0.0.1', port: 0 },
    uplink: { urls: [cloud.brokerUrl] },
    log: { level: 'warn' },
    pipelines: [factoryLinePipeline('t', 'soak')],
  }),
)
// the node as the gateway unit starts it: its V8 options (NODE_OPTIONS and ExecStart's node flags) read from the unit file
const node = spawnPlain([
  ...gatewayNodeFlags(),
  join(ROOT, 'packages/cli/dist/bin.js'),
  'node',
  '--config',
  cfg,
  '--status-every',
  '0',
])
const m = await node.line(/sensors publish to mqtt:\/\/([\d.]+):(\d+)/)
const load = runTsChild(join(ROOT, 'bench/lib/sensors.ts'), [
  m[1]!,
  m[2]!,
  'soak',
  String(CONNS),
  String(RATE),
  QOS,
  String(MINUTES * 60 + 60),
])
await load.waitForLine(/^connected/, 120_000)
const sent = track(load.child, /^sent (\d+) \d+ (\d+)/)
const acked = track(load.child, /^sent \d+ (\d+) (\d+)/)
console.log(
  `bench/soak — ${CONNS} connections x ${RATE}/s, QoS ${QOS}, ${MINUTES} min, node flags ${gatewayNodeFlags().join(' ')}, on ${machine()}. Shared machine: look at the trend.`,
)
// each sample also shows the load the node really had: readings sent and PUBACKed per second since the last
// sample, and the node's CPU per reading sent (a loaded machine shows up as a falling rate, not a silent gap)
console.log('minute  RSS MiB  fds  sent/s  puback/s  node µs/reading')
const samples: Array<{ rss: number; fds: number }> = []
const end = Date.now() + MINUTES * 60_000
let prev = { sent: sent().n, acked: acked().n, cpu: cpuMs(node.pid), t: Date.now() }
while (Date.now() < end) {
  await sleep(EVERY * 1000)
  const s = { rss: rssMiB(node.pid), fds: fdCount(node.pid) }
  const now = { sent: sent().n, acked: acked().n, cpu: cpuMs(node.pid), t: Date.now() }
  const secs = (now.t - prev.t) / 1000
  const n = now.sent - prev.sent
  samples.push(s)
  console.log(
    `${(((samples.length * EVERY) / 60) | 0).toString().padStart(6)}  ${s.rss.toFixed(1).padStart(7)}  ${String(s.fds).padStart(3)}  ${fmt(n / secs).padStart(6)}  ${fmt((now.acked - prev.acked) / secs).padStart(8)}  ${n > 0 ? (((now.cpu - prev.cpu) * 1000) / n).toFixed(1) : 'n/a'}`,
  )
  prev = now
}
await load.kill9()
await node.stop('SIGTERM')
await cloud.stop()
// after the warm-up (the first tenth), the median of the first and of the last tenth of the samples: one
// sample moves with GC timing on a shared machine, a tenth of them shows the trend
const warm = samples.slice(Math.ceil(samples.length / 10))
const tenth = Math.max(1, Math.floor(warm.length / 10))
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const first = { rss: med(warm.slice(0, tenth).map((s) => s.rss)), fds: warm[0]!.fds }
const last = { rss: med(warm.slice(-tenth).map((s) => s.rss)), fds: warm[warm.length - 1]!.fds }
const growth = (last.rss / first.rss - 1) * 100
const max = Math.max(...warm.map((s) => s.rss))
console.log(
  `RSS after warm-up, median of first/last tenth: ${first.rss.toFixed(1)} → ${last.rss.toFixed(1)} MiB (${growth.toFixed(1)} %, target < 5 %), max ${max.toFixed(1)}; fds ${first.fds} → ${last.fds}`,
)
process.exit(growth < 5 && last.fds <= first.fds ? 0 : 1)
