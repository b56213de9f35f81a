/**
 * bench/anomaly: µs per reading and bytes of state per sensor for each detector, against a baseline measured
 * in the same run (a bare running mean over the same values), every round shown. State: retained heap per
 * sensor (1,000 sensors' detectors, heap delta after gc) and the checkpoint snapshot's JSON size.
 * Budget (issue 14): ≤ 20 µs per reading, ≤ 64 KB per sensor.
 * Run: npm run bench:anomaly   (FOGLINE_BENCH_SCALE=2 for longer runs)
 * Figures from a shared 2-core machine are noisy: compare ratios within one run, not across runs.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { AnomalyModel, createDetector, type Detector } from '@fogline/pipeline'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const SCALE = Number(process.env['FOGLINE_BENCH_SCALE'] ?? '1')
const N = Math.round(400_000 * SCALE)
const ROUNDS = 3
const SENSORS = 1000

// a daily-like cycle with noise and an occasional spike, as a sensor would send it
let seed = 42
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
const values = Float64Array.from({ length: N }, (_, i) => {
  const v = 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + (rnd() - 0.5) * 3
  return i % 5000 === 4999 ? v + 30 : v
})

const models: Record<string, unknown> = {
  context: { kind: 'context' },
  ewma: { kind: 'ewma' },
  gaussian: { kind: 'gaussian', mean: 50, std: 7 },
}
const make = (name: string): Detector => createDetector(AnomalyModel.parse(models[name]), 's')!

function timeDetector(name: string): number {
  const d = make(name)
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) sink += d.update(values[i]!)
  const ns = Number(process.hrtime.bigint() - t0)
  if (sink === -1) console.log(sink)
  return ns / 1000 / N
}

function stateBytes(name: string): { heap: number; snapshot: number } {
  // settle what the timing rounds left behind, so the delta is this detector's
  for (let i = 0; i < 3; i++) gc()
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
  const ds: Detector[] = []
  for (let s = 0; s < SENSORS; s++) {
    const d = make(name)
    for (let i = 0; i < 2000; i++) d.update(values[(i + s * 37) % N]!)
    ds.push(d)
  }
  gc()
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
  const snapshot = JSON.stringify(ds[0]!.snapshot()).length
  if (ds.length !== SENSORS) throw new Error('unreachable')
  return { heap: (after - before) / SENSORS, snapshot }
}

const names = Object.keys(models)
console.log(
  `bench/anomaly: ${N.toLocaleString()} readings per detector, ${ROUNDS} rounds (every round shown)`,
)
console.log('round  detector   µs/reading  ewma µs  ratio')
for (let r = 1; r <= ROUNDS; r++) {
  for (const name of names) {
    const base = timeDetector('ewma')
    const us = timeDetector(name)
    console.log(
      `${String(r).padStart(5)}  ${name.padEnd(9)} ${us.toFixed(3).padStart(11)} ${base.toFixed(3).padStart(8)} ${(us / base).toFixed(1).padStart(6)}`,
    )
  }
}
console.log(`\nstate per sensor (${SENSORS} sensors, heap delta after gc; snapshot = checkpoint JSON bytes):`)
console.log('detector   heap bytes  snapshot bytes')
for (const name of names) {
  const s = stateBytes(name)
  console.log(
    `${name.padEnd(9)} ${Math.round(s.heap).toString().padStart(11)} ${String(s.snapshot).padStart(15)}`,
  )
}
console.log(
  '\nbudget: ≤ 20 µs per reading, ≤ 65,536 bytes per sensor. Shared 2-core machine: figures are noisy,',
)
console.log('compare the ratio to the baseline within one run.')
