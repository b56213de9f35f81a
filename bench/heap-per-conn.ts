/**
 * bench/heap-per-conn: what one idle sensor connection costs, measured where it is deterministic — the live JS
 * heap after full GCs, in this process — for bare aedes 1.2, the fog broker (`startBroker`) and the whole fog
 * node (`startNode`, factory-line pipeline: each sensor also gets its window state). N connections from a
 * child (bench/lib/sensors.ts), each publishing one QoS 0 reading, then idle. RSS per connection is printed
 * too; it moves with the allocator and GC timing, the heap figure does not (docs/benchmarks.md, Memory).
 * The `pipeline` case is the node's pipeline state alone: the engine (factory-line pipeline) in this process,
 * one topic per sensor, two readings each (a sensor's deadband and window state, its topic's cache entry).
 * Run: node --expose-gc --max-semi-space-size=1 --conditions=source --import tsx bench/heap-per-conn.ts
 *   FOGLINE_BENCH_CONNS=2000, FOGLINE_BENCH_CASES=aedes,broker,node,pipeline
 */
import { createServer } from 'node:net'
import { join } from 'node:path'
import { startBroker } from '@fogline/broker'
import { startNode } from '@fogline/node'
import { createEngine } from '@fogline/pipeline'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import { runTsChild, tempDir } from '@fogline/testkit'
import { factoryLinePipeline } from './lib/pipeline.js'
import { ROOT, sleep } from './lib/proc.js'

const N = Number(process.env['FOGLINE_BENCH_CONNS'] ?? '2000')
const WARM = 200
const CASES = (process.env['FOGLINE_BENCH_CASES'] ?? 'aedes,broker,node,pipeline').split(',')
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')

/** One system on port 0; returns its port and how to stop it. */
async function start(what: string, dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  if (what === 'aedes') {
    const { Aedes } = await import('aedes')
    const aedes = await Aedes.createBroker({})
    const s = createServer({ noDelay: true }, (sock) => aedes.handle(sock))
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
    const stop = () => new Promise<void>((r) => aedes.close(() => s.close(() => r())))
    return { port: (s.address() as { port: number }).port, stop }
  }
  const limits = { maxConnections: N + 10 }
  if (what === 'broker') {
    // the node's config defaults for the rate limits (startBroker alone leaves them off)
    const b = await startBroker({
      port: 0,
      limits: { ...limits, publishRate: 10_000, publishBytesPerSec: 16 * 1024 * 1024 },
      onMessage: () => {},
    })
    return { port: b.port, stop: () => b.close() }
  }
  const node = await startNode(
    parseConfig(NodeConfig, {
      nodeId: 'hpc',
      dataDir: join(dir, 'node'),
      broker: { host: '127.0.0.1', port: 0, limits },
      // no cloud: the uplink retries in the background, which costs no heap per connection
      uplink: { urls: ['mqtt://127.0.0.1:9'] },
      log: { level: 'silent' },
      pipelines: [factoryLinePipeline('t', 'hpc')],
    }),
  )
  return { port: Number(new URL(node.brokerUrl).port), stop: () => node.stop() }
}

const settled = async () => {
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(200)
  }
  return process.memoryUsage()
}

console.log(
  `bench/heap-per-conn — ${N} idle connections (one reading each), live heap after full GCs, node ${process.version}`,
)
/** the pipeline engine's state per sensor: in this process, no broker */
async function pipelineHeap(): Promise<void> {
  const clock = { now: () => Date.now(), setTimeout, clearTimeout, setInterval, clearInterval }
  const engine = createEngine([factoryLinePipeline('t', 'hpc')], { clock, emit() {}, deadLetter() {} })
  // a topic arrives as a new string per packet, as the MQTT parser makes it
  const topic = (i: number) =>
    Buffer.from(`hpc/sensors/s${String(i).padStart(4, '0')}/temperature`).toString()
  const reading = (v: number) => Buffer.from(JSON.stringify({ value: v, ts: Date.now() }))
  // compile the hot path first, on sensors of their own
  for (let k = 0; k < 3; k++) for (let i = 0; i < 200; i++) engine.ingest(topic(N + i), reading(20 + k))
  const m0 = await settled()
  for (const v of [21.5, 22.5]) for (let i = 0; i < N; i++) engine.ingest(topic(i), reading(v))
  const m1 = await settled()
  const per = (k: 'heapUsed' | 'external') => ((m1[k] - m0[k]) / N).toFixed(0)
  console.log(`  pipeline heap ${per('heapUsed')} B/sensor, external ${per('external')}`)
  // (closed only now: the engine must stay reachable through the second measurement)
  engine.close()
}

for (const what of CASES) {
  if (what === 'pipeline') {
    await pipelineHeap()
    continue
  }
  using dir = tempDir('fogline-hpc-')
  const sys = await start(what, dir.path)
  await sleep(1000)
  // first WARM sensors of their own (numbered after the measured ones) come and go, so that the code their
  // packets run is compiled before the first measurement, not counted per connection (~300 B of it)
  const warm = runTsChild(join(ROOT, 'bench/lib/sensors.ts'), [
    '127.0.0.1',
    String(sys.port),
    'hpc',
    String(WARM),
    '20',
    '0',
    '5',
    String(N),
  ])
  await warm.waitForLine(/^connected/, 60_000)
  await sleep(5000)
  await warm.kill9()
  await sleep(1000)
  const m0 = await settled()
  // sensor i sends in the 5 ms slot i of a 100 s period: every one once within N x 5 ms, then idle
  const pub = runTsChild(join(ROOT, 'bench/lib/sensors.ts'), [
    '127.0.0.1',
    String(sys.port),
    'hpc',
    String(N),
    '0.01',
    '0',
    '600',
  ])
  await pub.waitForLine(/^connected/, 120_000)
  await sleep(Math.min(20_000, N * 5 + 2000))
  const m1 = await settled()
  const per = (k: 'heapUsed' | 'external' | 'rss') => ((m1[k] - m0[k]) / N).toFixed(0)
  console.log(
    `  ${what.padEnd(7)} heap ${per('heapUsed')} B/connection, external ${per('external')}, RSS ${per('rss')} (noisy)`,
  )
  await pub.kill9()
  await sys.stop()
}
process.exit(0)
