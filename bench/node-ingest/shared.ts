/**
 * bench/node-ingest, shared parts: the load (batched publisher role), the measuring run, the report table
 * and the node's config. The roles run as children of bench/node-ingest.ts.
 */
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { runTsChild, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { factoryLinePipeline } from '../lib/pipeline.js'
import { cpuMs, ROOT, rssMiB, type Sample, sleep, track } from '../lib/proc.js'
import { packet, str16 } from '../lib/sensors.js'

export const env = process.env
export const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '4')
export const ROUNDS = Number(env['FOGLINE_BENCH_ROUNDS'] ?? '2')
export const RSS_SECONDS = Number(env['FOGLINE_BENCH_RSS_SECONDS'] ?? '20')
export const WARM_MS = 1000
export const SENSORS = 1000
export const PER_SENSOR = 50
export const CLIENTS = 4
export const PACED = 10_000
/** the file whose --pub/--sub roles run the load children */
export const SELF = join(ROOT, 'bench/node-ingest.ts')
export const MOSQUITTO = { host: '127.0.0.1', port: 1883 }

/** QoS 0 PUBLISH: no packet identifier [MQTT-2.3.1-5]. */
function publishPacket(topic: string, payload: Buffer): Buffer {
  return packet(0x30, str16(topic), payload)
}

/** The load: a random walk per sensor (about half the steps pass the 0.05 deadband), sensors interleaved. */
function readings(prefix: string): Array<{ topic: string; payload: Buffer }> {
  let seed = 42
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const walk = Array.from({ length: SENSORS }, () => 20 + rnd() * 10)
  const t0 = Date.now()
  const out: Array<{ topic: string; payload: Buffer }> = []
  for (let k = 0; k < PER_SENSOR; k++)
    for (let s = 0; s < SENSORS; s++) {
      walk[s]! += (rnd() - 0.5) * 0.2
      const value = Math.round(walk[s]! * 1000) / 1000
      out.push({
        topic: `${prefix}/sensors/s${String(s).padStart(4, '0')}/temperature`,
        payload: Buffer.from(JSON.stringify({ value, ts: t0 + k * 1000 })),
      })
    }
  return out
}

// ---------------------------------------------------------------------------------------- child roles
async function connectClients(host: string, port: number, n: number, tag: string) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = await mqtt.connectAsync(`mqtt://${host}:${port}`, {
        clientId: `${tag}-${i}-${process.pid}`,
        protocolVersion: 4,
        reconnectPeriod: 0,
        keepalive: 60,
      })
      ;(c.stream as Socket).setNoDelay(true)
      return c
    }),
  )
}

/** --pub host port prefix rate seconds: rate 0 = as fast as the sockets drain. Prints `sent <n> <ms>`. */
export async function publisherRole(
  host: string,
  port: number,
  prefix: string,
  rate: number,
  seconds: number,
) {
  const all = readings(prefix)
  const packets = all.map((r) => publishPacket(r.topic, r.payload))
  const clients = await connectClients(host, port, CLIENTS, `${prefix}-pub`)
  const socks = clients.map((c) => c.stream as Socket)
  let sent = 0
  setInterval(() => console.log(`sent ${sent} ${Date.now()}`), 250)
  setTimeout(() => process.exit(0), seconds * 1000)
  console.log('pub started')
  // a sensor always goes through the same connection, so its readings stay in order
  const sockOf = (i: number) => socks[Math.floor((i % SENSORS) / 50) % CLIENTS]!
  if (rate > 0) {
    const t0 = performance.now()
    setInterval(() => {
      const due = Math.floor((rate * (performance.now() - t0)) / 1000)
      for (const s of socks) s.cork()
      for (; sent < due; sent++) sockOf(sent).write(packets[sent % packets.length]!)
      for (const s of socks) s.uncork()
    }, 5)
    return
  }
  if (env['FOGLINE_BENCH_PUB'] === 'mqttjs') {
    // the plain mqtt.js publish() path, for checking that the pre-encoded path is not what limits a broker
    clients.forEach((c, k) => {
      const mine = all.filter((_, i) => sockOf(i) === socks[k])
      let j = 0
      const pump = () => {
        for (let b = 0; b < 63; b++, j++)
          c.publish(mine[j % mine.length]!.topic, mine[j % mine.length]!.payload)
        const r = mine[j++ % mine.length]!
        c.publish(r.topic, r.payload, { qos: 0 }, () => setImmediate(pump))
        sent += 64
      }
      pump()
    })
    return
  }
  // 50 packets per write, one sensor block per chunk; wait for 'drain' when the kernel buffer is full
  const CH = 50
  for (const sock of socks) {
    const chunks: Buffer[] = []
    for (let i = 0; i < packets.length; i += CH)
      if (sockOf(i) === sock) chunks.push(Buffer.concat(packets.slice(i, i + CH)))
    let j = 0
    const pump = () => {
      for (let burst = 0; burst < 32; burst++) {
        const ok = sock.write(chunks[j++ % chunks.length]!)
        sent += CH
        if (!ok) {
          sock.once('drain', pump)
          return
        }
      }
      setImmediate(pump)
    }
    pump()
  }
}

// bare aedes as a plain Node child (no tsx): the broker the fog node is built on, ingest only
export const AEDES_CHILD = `import { createServer } from 'node:net'
import { Aedes } from 'aedes'
let n = 0
const aedes = await Aedes.createBroker({ published(p, c, done) { if (c) n++; done() } })
const s = createServer({ noDelay: true }, (sock) => aedes.handle(sock))
s.listen(0, '127.0.0.1', () => console.log('aedes port ' + s.address().port))
setInterval(() => console.log('n ' + n + ' ' + Date.now()), 250)`

export interface Run {
  /** the watched process that does the work (the first key of `watch`) */
  sut: string
  /** readings (or messages) per second counted by the system under test */
  rate: number
  /** what the publisher wrote per second */
  offered: number
  /** CPU µs per counted reading, per watched process */
  cpuUs: Record<string, number>
  /** share of one core, per watched process */
  cpuPct: Record<string, number>
  /** VmRSS samples (MiB) every 500 ms, per watched process */
  rss: Record<string, number[]>
}

/** Drive `target` from a publisher child; measure `count` over SECONDS (or `seconds`) after a warm-up. */
export async function loadRun(
  target: { host: string; port: number },
  prefix: string,
  count: () => Sample,
  watch: Record<string, number>,
  opts: { rate?: number; seconds?: number; also?: Record<string, number> } = {},
): Promise<Run> {
  const seconds = opts.seconds ?? SECONDS
  const pub = runTsChild(SELF, [
    '--pub',
    target.host,
    String(target.port),
    prefix,
    String(opts.rate ?? 0),
    String(seconds + WARM_MS / 1000 + 20),
  ])
  const sent = track(pub.child, /^sent (\d+) (\d+)/)
  // CPU is also read for the load generator (and a subscriber) to show when they, not the system, are the limit
  const cpuWatch = { ...watch, ...opts.also, pub: pub.pid }
  try {
    await pub.waitForLine(/^pub started/)
    const n0 = count().n
    await waitFor(() => count().n > n0, 'readings arriving', 20_000, 50)
    await sleep(WARM_MS)
    const a = count()
    const pa = sent()
    const ca = Object.fromEntries(Object.entries(cpuWatch).map(([k, p]) => [k, cpuMs(p)]))
    const t0 = performance.now()
    const rss: Record<string, number[]> = Object.fromEntries(Object.keys(watch).map((k) => [k, []]))
    const sampleRss = () => {
      for (const [k, p] of Object.entries(watch)) rss[k]!.push(rssMiB(p))
    }
    sampleRss()
    const timer = setInterval(sampleRss, 500)
    await sleep(seconds * 1000)
    clearInterval(timer)
    const wall = performance.now() - t0
    const b = count()
    const pb = sent()
    const rate = ((b.n - a.n) * 1000) / (b.t - a.t)
    const cpuUs: Record<string, number> = {}
    const cpuPct: Record<string, number> = {}
    for (const [k, p] of Object.entries(cpuWatch)) {
      const used = cpuMs(p) - ca[k]!
      cpuUs[k] = (used * 1000) / ((rate * wall) / 1000)
      cpuPct[k] = (used / wall) * 100
    }
    const offered = ((pb.n - pa.n) * 1000) / (pb.t - pa.t)
    return { sut: Object.keys(watch)[0]!, rate, offered, cpuUs, cpuPct, rss }
  } finally {
    await pub.kill9()
    // wait until the system under test has worked off its queue (a broker's, Node-RED's), so that it does not
    // take CPU from the next case
    let prev = -1
    await waitFor(() => prev === (prev = count().n), 'the counter to settle', 60_000, 400)
  }
}

// ---------------------------------------------------------------------------------------- report
export const table: Array<[string, string, string]> = []
export function row(what: string, figure: string, vs = ''): void {
  table.push([what, figure, vs])
  console.log(`${what.padEnd(66)} ${figure.padStart(14)}  ${vs}`)
}
export const ratio = (a: number, b: number) => (a / b).toFixed(2)

export function nodeConfigInput(prefix: string, dataDir: string, uplinkPort: number) {
  return {
    nodeId: 'bench-node',
    dataDir,
    // per-client rate limits off: this bench saturates the node from 4 connections, and the default of 10,000
    // publishes/s per client would cap it at 40,000/s (a real sensor sends a few per second; bench/paced.ts
    // keeps the defaults)
    broker: { host: '127.0.0.1', port: 0, limits: { publishRate: 0, publishBytesPerSec: 0 } },
    uplink: { urls: [`mqtt://127.0.0.1:${uplinkPort}`] },
    log: { level: 'silent' as const },
    pipelines: [factoryLinePipeline('bench', prefix)],
  }
}
