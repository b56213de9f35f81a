/**
 * bench/pipeline: readings/s through decode → validate → deadband → 1-min tumbling window with 6 aggregates
 * over 1,000 sensors, against a bare loop that only decodes the same payload buffers (JSON.parse + read
 * .value), side by side with the ratio; then memory per open window (heap delta / open windows).
 * Run: node --conditions=source --import tsx bench/pipeline.ts   (FOGLINE_BENCH_SCALE=2 for longer runs)
 * Figures from a shared 2-core machine are noisy: compare the ratio within one run, not across runs.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createEngine, type EngineOutput } from '@fogline/pipeline'
import { type Clock, systemClock } from '@fogline/protocol'
import { FACTORY_LINE_STAGES } from './lib/pipeline.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const env = process.env
const SCALE = Number(env['FOGLINE_BENCH_SCALE'] ?? '1')
const SENSORS = 1000
const PER_SENSOR = 20
const N = Math.round(1_000_000 * SCALE)
const ROUNDS = 3
// each round runs bare, decode-only and the full pipeline back to back, so load changes hit all three
const T0 = 1_767_225_600_000

// payloads: a random walk per sensor (about half the steps pass the 0.05 deadband), as the sensor would send them
const topics: string[] = []
const payloads: Buffer[] = []
let seed = 42
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
for (let s = 0; s < SENSORS; s++) {
  let v = 20 + rnd() * 10
  for (let k = 0; k < PER_SENSOR; k++) {
    v += (rnd() - 0.5) * 0.2
    topics.push(`sensors/s${s}/temperature`)
    payloads.push(Buffer.from(JSON.stringify({ value: Math.round(v * 1000) / 1000, ts: T0 + k * 1000 })))
  }
}
// interleave sensors as a broker would deliver them
const order = Array.from(
  { length: topics.length },
  (_, i) => (i % SENSORS) * PER_SENSOR + Math.floor(i / SENSORS),
)
const M = order.length

function bare(n: number): number {
  let acc = 0
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const j = order[i % M]!
    const o = JSON.parse(payloads[j]!.toString('utf8'))
    acc += o.value
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9
  if (acc === 42) console.log('')
  return n / s
}

const pipeline = [
  {
    id: 'bench',
    input: ['sensors/+/+'],
    decoder: { type: 'json', value: '$.value', ts: '$.ts' },
    stages: FACTORY_LINE_STAGES,
    output: { stream: 'summary' },
  },
]

// a fixed processing time inside one minute: the run measures the per-reading path, not window closes
const clock: Clock = { ...systemClock, now: () => T0 + 1000, setTimeout: () => 0, clearTimeout: () => {} }
let emitted = 0
const host = { clock, emit: (o: EngineOutput[]) => (emitted += o.length), deadLetter: () => {} }

const decodeOnly = [{ ...pipeline[0]!, stages: [], output: { stream: 'summary' } }]

function engineRun(n: number, pipes: unknown[] = pipeline): { rate: number; passed: number } {
  const engine = createEngine(pipes, host)
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const j = order[i % M]!
    engine.ingest(topics[j]!, payloads[j]!)
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9
  const c = engine.counters()['bench']!
  engine.close()
  return { rate: n / s, passed: c.stages['1:deadband']?.out ?? 0 }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
console.log('bench/pipeline — figures from a shared machine are noisy; compare the ratio within one run\n')
console.log(`${SENSORS} sensors, ${fmt(N)} readings per run, best of ${ROUNDS} runs`)
bare(200_000)
engineRun(200_000) // warm up both paths
let bestBare = 0
let bestEngine = 0
let passed = 0
let bestDecode = 0
for (let r = 0; r < ROUNDS; r++) {
  bestBare = Math.max(bestBare, bare(N))
  bestDecode = Math.max(bestDecode, engineRun(N, decodeOnly).rate)
  const e = engineRun(N)
  if (e.rate > bestEngine) bestEngine = e.rate
  passed = e.passed
}
console.log('')
console.log(`${'path'.padEnd(62)} ${'readings/s'.padStart(12)}`)
console.log(`${'bare loop: JSON.parse + .value'.padEnd(62)} ${fmt(bestBare).padStart(12)}`)
console.log(`${'engine: decode only (no stages)'.padEnd(62)} ${fmt(bestDecode).padStart(12)}`)
console.log(
  `${'engine: decode → validate → deadband → 1-min window (6 aggs)'.padEnd(62)} ${fmt(bestEngine).padStart(12)}`,
)
console.log(`${'ratio engine / bare'.padEnd(62)} ${(bestEngine / bestBare).toFixed(2).padStart(12)}`)
console.log(
  `deadband passed ${((passed / N) * 100).toFixed(0)} % of readings to the window; ${emitted} summaries emitted`,
)

// memory per open window: one reading for each of K sensors opens K windows (and K deadband entries)
function memory(stages: unknown[], label: string): void {
  const K = Math.round(50_000 * Math.min(SCALE, 4))
  const bufs = Array.from({ length: K }, (_, i) => Buffer.from(`{"value":${20 + (i % 100) / 10}}`))
  const tps = Array.from({ length: K }, (_, i) => `sensors/m${i}/temperature`)
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  const engine = createEngine(
    [{ id: 'mem', input: ['sensors/+/+'], stages, output: { stream: 'summary' } }],
    host,
  )
  for (let i = 0; i < K; i++) engine.ingest(tps[i]!, bufs[i]!)
  gc()
  gc()
  const after = process.memoryUsage().heapUsed
  const snap = engine.snapshot() as { pipelines: { mem: { stages: Array<{ groups?: unknown[] } | null> } } }
  const open = snap.pipelines.mem.stages.reduce((a, s) => a + (s?.groups?.length ?? 0), 0)
  console.log(`${label.padEnd(62)} ${fmt((after - before) / open).padStart(8)} B (${fmt(open)} open windows)`)
  engine.close()
}
console.log('')
console.log(`${'memory per open window (heap delta / open windows)'.padEnd(62)}`)
memory(
  [{ type: 'window', size: '1m', aggregates: ['count', 'min', 'max', 'mean', 'sum', 'stddev'] }],
  '  1-min window, 6 aggregates',
)
memory(
  [
    { type: 'validate', min: -50, max: 150 },
    { type: 'deadband', absolute: 0.05 },
    { type: 'window', size: '1m', aggregates: ['count', 'min', 'max', 'mean', 'sum', 'stddev'] },
  ],
  '  the bench pipeline (window + deadband state per sensor)',
)
memory(
  [{ type: 'window', size: '1m', aggregates: ['count', 'min', 'max', 'mean', 'sum', 'p50', 'p95', 'p99'] }],
  '  1-min window with percentiles (1 reading per window)',
)
console.log('\n(the topic cache holds up to 10,000 topics and is counted in the heap delta above)')
