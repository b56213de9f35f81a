/**
 * bench/soak: the fog node (built CLI) under the paced real-sensor load for an hour, RSS and open file
 * descriptors sampled over time. Opt-in (it takes an hour): not part of npm test.
 * Run: npm run build && node --conditions=source --import tsx bench/soak.ts
 *   FOGLINE_SOAK_MINUTES=60, FOGLINE_SOAK_QOS=1, FOGLINE_BENCH_CONNS=1000, FOGLINE_BENCH_RATE=10,
 *   FOGLINE_SOAK_EVERY=30 seconds between samples.
 * Pass: RSS growth after the warm-up (the first tenth) < 5 %, no growth in file descriptors.
 * On a shared machine RSS moves with GC timing; look at the trend, not one sample.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { runTsChild, tempDir } from '@fogline/testkit'
import { factoryLinePipeline } from './lib/pipeline.js'
import { fdCount, ROOT, rssMiB, sleep, spawnPlain } from './lib/proc.js'

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
const node = spawnPlain([
  '--max-semi-space-size=1',
  '--v8-pool-size=1',
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
console.log(
  `bench/soak — ${CONNS} connections x ${RATE}/s, QoS ${QOS}, ${MINUTES} min. Shared machine: look at the trend.`,
)
console.log('minute  RSS MiB  fds')
const samples: Array<{ rss: number; fds: number }> = []
const end = Date.now() + MINUTES * 60_000
while (Date.now() < end) {
  await sleep(EVERY * 1000)
  const s = { rss: rssMiB(node.pid), fds: fdCount(node.pid) }
  samples.push(s)
  console.log(
    `${(((samples.length * EVERY) / 60) | 0).toString().padStart(6)}  ${s.rss.toFixed(1).padStart(7)}  ${s.fds}`,
  )
}
await load.kill9()
await node.stop('SIGTERM')
await cloud.stop()
const warm = samples.slice(Math.ceil(samples.length / 10))
const first = warm[0]!
const last = warm[warm.length - 1]!
const growth = (last.rss / first.rss - 1) * 100
console.log(
  `RSS after warm-up ${first.rss.toFixed(1)} → ${last.rss.toFixed(1)} MiB (${growth.toFixed(1)} %, target < 5 %); fds ${first.fds} → ${last.fds}`,
)
process.exit(growth < 5 && last.fds <= first.fds ? 0 : 1)
