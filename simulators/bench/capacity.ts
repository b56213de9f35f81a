// How many sensors at what rate one simulator process sustains against an in-process aedes broker on port 0.
// Run: node --conditions=source --import tsx simulators/bench/capacity.ts   (FOGLINE_BENCH_SECS=5 per case by default)
// Figures from a shared 2-core machine are noisy (broker, subscriber and simulator share this one process):
// compare the ratios within one run, not absolute numbers across runs.
import type { Socket } from 'node:net'
import { startTestBroker } from '@fogline/testkit'
import mqtt from 'mqtt'
import { startSimulators } from '../src/index.js'

const SECS = Number(process.env.FOGLINE_BENCH_SECS ?? 5)
const CASES: Array<[sensors: number, hz: number]> = [
  [1000, 1],
  [5000, 1],
  [10000, 1],
  [1000, 10],
  [2000, 10],
  [5000, 10],
]

const broker = await startTestBroker()
const sub = await mqtt.connectAsync(broker.url)
;(sub.stream as unknown as Socket).setNoDelay(true)
let received = 0
sub.on('message', () => received++)
await sub.subscribeAsync('#', { qos: 0 })

// baseline: one mqtt.js client publishing a reading-sized payload as fast as the socket takes it
async function baseline(): Promise<number> {
  const c = await mqtt.connectAsync(broker.url)
  ;(c.stream as unknown as Socket).setNoDelay(true)
  const payload = Buffer.from(JSON.stringify({ value: 21.1234, ts: Date.now() }))
  received = 0
  const t0 = Date.now()
  let inflight = 0
  while (Date.now() - t0 < SECS * 1000) {
    if (inflight < 512) {
      inflight++
      c.publish('sensors/base/temperature', payload, { qos: 0 }, () => inflight--)
    } else await new Promise((r) => setImmediate(r))
  }
  const rate = received / ((Date.now() - t0) / 1000)
  await c.endAsync()
  return rate
}

const rows: Array<Record<string, string | number>> = []
const base = await baseline()
rows.push({
  case: 'baseline raw publish loop',
  target: '-',
  delivered: Math.round(base),
  ratio: '-',
  lagMs: '-',
  cpuPct: '-',
})
for (const [n, hz] of CASES) {
  await new Promise((r) => setTimeout(r, 300))
  received = 0
  const cpu0 = process.cpuUsage()
  const sim = await startSimulators({
    url: broker.url,
    tick: 20,
    sensors: [{ id: 's', count: n, rate: hz, profile: 'temperature' }],
  })
  const t0 = Date.now()
  let maxLag = 0
  const lagTimer = setInterval(() => {
    maxLag = Math.max(maxLag, sim.stats().lagMs)
  }, 250)
  await new Promise((r) => setTimeout(r, SECS * 1000))
  clearInterval(lagTimer)
  const secs = (Date.now() - t0) / 1000
  const delivered = received / secs
  const cpu = process.cpuUsage(cpu0)
  await sim.stop()
  const target = n * hz
  rows.push({
    case: `${n} sensors × ${hz} Hz`,
    target,
    delivered: Math.round(delivered),
    ratio: (delivered / target).toFixed(3),
    lagMs: Math.round(maxLag),
    cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100),
  })
}
console.table(rows)
console.log(
  `ratio = delivered/target readings per second at the subscriber; lagMs = worst scheduler lag; ${SECS}s per case.`,
)
console.log(
  'cpuPct is this whole process (broker + subscriber + simulator). Shared machine: figures are noisy.',
)
await sub.endAsync()
await broker.close()
