/**
 * bench/e2e: the whole chain in one process (cloud with embedded aedes + SQLite store, one fog node, sensors).
 *   1. event latency, sensor publish → event row committed in the cloud store (CloudBus 'event', emitted after
 *      the commit), at 50 events/s with 100 sensors x 10 Hz of background summary load (1-s windows), for the
 *      default uplink/outbox settings and tuned ones; stage breakdown from hooks on the outbox, the uplink's
 *      reads and the store. Baseline: a bare mqtt.js → aedes → mqtt.js hop, idle and under the same load.
 *   2. bytes uplinked vs raw: 100 sensors x 10 Hz into a 1-min window (and a 10-min one), simulated minutes
 *      on a fake clock; raw MQTT payload and socket bytes (TCP proxy) vs uplink payload and socket bytes.
 * Run: node --conditions=source --import tsx bench/e2e.ts   (FOGLINE_BENCH_SCALE=2 for longer runs)
 * Figures from a shared 2-core machine are noisy: compare the ratios within one run, not across runs.
 */
import { join } from 'node:path'
import { type Cloud, startCloud } from '@fogline/cloud'
import { type FogNode, startNode } from '@fogline/node'
import { type Clock, NodeConfig, type NodeConfigInput, parseConfig } from '@fogline/protocol'
import { startFaultProxy, startTestBroker, tempDir, waitFor } from '@fogline/testkit'
import mqtt, { type MqttClient } from 'mqtt'

const SCALE = Number(process.env['FOGLINE_BENCH_SCALE'] ?? '1')
const EVENTS = Math.round(1000 * SCALE)
const EVENT_HZ = 50
const WARMUP = 25
const ROUNDS = 4
const SENSORS = 100
const SENSOR_HZ = 10

const out = (k: string, v: string) => console.log(`${k.padEnd(64)} ${v}`)
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const ms = (n: number) => n.toFixed(2)
const sleep = (t: number) => new Promise((r) => setTimeout(r, t))

function pct(xs: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? Number.NaN
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] ?? Number.NaN }
}
const row = (xs: number[]) => {
  const p = pct(xs)
  return `${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)}`
}

async function client(url: string, id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 0 })
  // sensors on a LAN would not wait for Nagle either; mqtt.js does not turn it off
  ;(c.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
  return c
}

/** One hop: mqtt.js publish → aedes → mqtt.js subscriber, QoS 0, timed on the same monotonic clock. */
async function startProbe(): Promise<{ send(): void; lat: number[]; stop(): Promise<void> }> {
  const broker = await startTestBroker()
  const pub = await client(broker.url, 'probe-pub')
  const sub = await client(broker.url, 'probe-sub')
  await sub.subscribeAsync('probe/x', { qos: 0 })
  const sent = new Map<number, number>()
  const lat: number[] = []
  let n = 0
  sub.on('message', (_t, p) => {
    const t0 = sent.get(Number(p.toString()))
    if (t0 !== undefined) lat.push(performance.now() - t0)
  })
  return {
    lat,
    send() {
      const i = n++
      sent.set(i, performance.now())
      pub.publish('probe/x', String(i), { qos: 0 })
    },
    async stop() {
      await Promise.all([pub.endAsync(true), sub.endAsync(true)])
      await broker.close()
    },
  }
}

async function idleBaseline(): Promise<number[]> {
  const p = await startProbe()
  for (let i = 0; i < EVENTS / 2 + WARMUP; i++) {
    p.send()
    await sleep(1000 / EVENT_HZ)
  }
  await sleep(100)
  await p.stop()
  return p.lat.slice(WARMUP)
}

async function startFleet(
  dir: string,
  nodeId: string,
  node: { uplink: Record<string, unknown> } & Record<string, unknown>,
  memoryStore = false,
) {
  const cloud = await startCloud({
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    store: { sqlite: memoryStore ? ':memory:' : join(dir, 'cloud.db') },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  })
  const config = parseConfig(NodeConfig, {
    nodeId,
    dataDir: join(dir, nodeId),
    broker: { port: 0 },
    log: { level: 'silent' },
    ...node,
    uplink: { ...node.uplink, urls: [cloud.brokerUrl] },
  } as NodeConfigInput)
  const fog = await startNode(config)
  return { cloud, fog }
}

interface Variant {
  name: string
  linger: string
  commitInterval: string
  /** diagnostic: the cloud's SQLite in memory, so its commit does no fsync */
  memoryStore?: boolean
}

/** Time per event at each step, keyed by the event's value (unique per event) and then by its outbox seq. */
interface Trace {
  pub: number
  append?: number
  durable?: number
  read?: number
  insert?: number
  committed?: number
  stored?: number
}

function instrument(cloud: Cloud, fog: FogNode, byValue: Map<number, Trace>): void {
  const bySeq = new Map<number, Trace>()
  const ob = fog.outbox
  const append = ob.append.bind(ob)
  ob.append = (items, opts) => {
    const t = performance.now()
    const ev = items.map((it) =>
      it.stream === 'event' ? byValue.get((it.body as { value: number }).value) : undefined,
    )
    for (const e of ev) if (e) e.append = t
    const p = append(items, opts)
    void p.then((res) => {
      const t2 = performance.now()
      res.forEach((r, i) => {
        const e = ev[i]
        if (!e) return
        e.durable = t2
        bySeq.set(r.seq, e)
      })
    })
    return p
  }
  const readEncoded = ob.readEncoded.bind(ob)
  ob.readEncoded = (stream, after, max, maxBytes, o) => {
    const recs = readEncoded(stream, after, max, maxBytes, o)
    if (stream === 'event') {
      const t = performance.now()
      for (const r of recs) {
        const e = bySeq.get(r.seq)
        if (e) e.read = t
      }
    }
    return recs
  }
  const store = cloud.store
  const insert = store.insertBatch.bind(store)
  store.insertBatch = async (batch, at) => {
    if (batch.stream !== 'event') return insert(batch, at)
    const t = performance.now()
    const es = batch.records.map((r) => bySeq.get(r.seq))
    for (const e of es) if (e) e.insert = t
    const res = await insert(batch, at)
    const t2 = performance.now()
    for (const e of es) if (e) e.committed = t2
    return res
  }
  cloud.bus.on('event', (r) => {
    const e = byValue.get(r.value)
    if (e) e.stored = performance.now()
  })
}

/** Background: SENSORS sensors at SENSOR_HZ on one connection, spread over the second in 10-ms slices. */
function backgroundLoad(c: MqttClient): { stop(): void; sent: () => number } {
  let k = 0
  const perSlice = (SENSORS * SENSOR_HZ) / 100
  const timer = setInterval(() => {
    for (let i = 0; i < perSlice; i++) {
      const s = k++ % SENSORS
      const value = Math.round((20 + 5 * Math.sin(k / 500) + s / 10) * 1e4) / 1e4
      c.publish(`sensors/s${s}/temperature`, JSON.stringify({ value, ts: Date.now() }), { qos: 0 })
    }
  }, 10)
  return { stop: () => clearInterval(timer), sent: () => k }
}

async function latencyRun(v: Variant, n: number) {
  using dir = tempDir('fogline-bench-e2e-')
  const nodeId = `lat-l${v.linger}-c${v.commitInterval}${v.memoryStore ? '-mem' : ''}`
  const { cloud, fog } = await startFleet(
    dir.path,
    nodeId,
    {
      outbox: { commitInterval: v.commitInterval },
      uplink: { linger: v.linger },
      pipelines: [
        {
          id: 'alarms',
          input: ['alarms/+/+'],
          decoder: { type: 'json', value: '$.value' },
          stages: [{ type: 'threshold', name: 'over', above: 100, hold: 0 }],
          output: { stream: 'event', priority: 0 },
        },
        {
          id: 'load',
          input: ['sensors/+/+'],
          decoder: { type: 'json', value: '$.value', ts: '$.ts' },
          stages: [{ type: 'window', kind: 'tumbling', size: '1s' }],
          output: { stream: 'summary' },
        },
      ],
    },
    v.memoryStore,
  )
  await waitFor(() => fog.uplink.stats().connected, 'uplink connected')
  const byValue = new Map<number, Trace>()
  instrument(cloud, fog, byValue)
  const sensor = await client(fog.brokerUrl, 'alarm-sensor')
  const bg = await client(fog.brokerUrl, 'background')
  const probe = await startProbe()
  const load = backgroundLoad(bg)
  await sleep(1500) // summaries flowing before the first event
  const total = n + WARMUP
  const t0 = performance.now()
  for (let i = 0; i < total; i++) {
    // alternate above / back inside: each reading is an enter or leave event; the value names the event
    const value = i % 2 === 0 ? 1000 + i : -i - 1
    const tr: Trace = { pub: performance.now() }
    byValue.set(value, tr)
    sensor.publish('alarms/a1/pressure', JSON.stringify({ value }), { qos: 0 })
    setTimeout(() => probe.send(), 1000 / EVENT_HZ / 2)
    // keep the rate steady even when one turn of the loop is late
    const next = t0 + ((i + 1) * 1000) / EVENT_HZ
    await sleep(Math.max(0, next - performance.now()))
  }
  await waitFor(
    () => [...byValue.values()].every((t) => t.stored !== undefined),
    'every event stored in the cloud',
    15_000,
  ).catch(() => {})
  load.stop()
  const summaries = fog.stats().outputs['summary'] ?? 0
  const traces = [...byValue.values()].slice(WARMUP)
  const done = traces.filter((t) => t.stored !== undefined)
  const d = (a: keyof Trace, b: keyof Trace) =>
    done.filter((t) => t[a] !== undefined && t[b] !== undefined).map((t) => t[b]! - t[a]!)
  const res = {
    total: done.map((t) => t.stored! - t.pub),
    lost: traces.length - done.length,
    probe: probe.lat.slice(WARMUP),
    stages: [
      ['sensor publish → outbox.append (broker, pipeline)', d('pub', 'append')],
      ['outbox.append → durable (group commit)', d('append', 'durable')],
      ['durable → uplink reads it (linger)', d('durable', 'read')],
      ['uplink read → store.insertBatch (encode, 2nd MQTT hop, ingest queue)', d('read', 'insert')],
      ['insertBatch → committed (cloud SQLite commit, FULL sync)', d('insert', 'committed')],
      ['committed → bus event (ack published)', d('committed', 'stored')],
    ] as Array<[string, number[]]>,
    summaries,
    readings: load.sent(),
  }
  await Promise.all([sensor.endAsync(true), bg.endAsync(true), probe.stop()])
  await fog.stop()
  await cloud.stop()
  return res
}

async function latencyBench(): Promise<void> {
  console.log('\n1. event latency, sensor publish → event row committed in the cloud store (ms)')
  const idle = await idleBaseline()
  out('   p50 | p90 | p99 | max', '')
  out('baseline: bare mqtt.js → aedes → mqtt.js, one hop, idle', row(idle))
  const variants: Variant[] = [
    { name: 'defaults (linger 20ms, commitInterval 5ms)', linger: '20ms', commitInterval: '5ms' },
    { name: 'tuned (linger 0, commitInterval 0)', linger: '0ms', commitInterval: '0ms' },
    { name: 'linger 0, commitInterval 5ms', linger: '0ms', commitInterval: '5ms' },
    { name: 'linger 20ms, commitInterval 0', linger: '20ms', commitInterval: '0ms' },
    {
      name: 'tuned, cloud store :memory: (diagnostic: no fsync at the cloud)',
      linger: '0ms',
      commitInterval: '0ms',
      memoryStore: true,
    },
  ]
  // the variants take turns, ROUNDS times, so a noisy neighbour hits all of them alike
  type Run = Awaited<ReturnType<typeof latencyRun>>
  const runs: Run[][] = variants.map(() => [])
  for (let r = 0; r < ROUNDS; r++)
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length
      const n = Math.round((i < 2 ? EVENTS : EVENTS / 2) / ROUNDS)
      runs[i]!.push(await latencyRun(variants[i]!, n))
    }
  const p99s: number[] = []
  for (const [i, v] of variants.entries()) {
    const rs = runs[i]!
    const total = rs.flatMap((r) => r.total)
    const probe = rs.flatMap((r) => r.probe)
    const summaries = rs.reduce((a, r) => a + r.summaries, 0)
    const lost = rs.reduce((a, r) => a + r.lost, 0)
    p99s.push(pct(total).p99)
    console.log(`\n  ${v.name}: ${fmt(total.length)} events, ${fmt(summaries)} summaries alongside`)
    out('  e2e: sensor → cloud store commit (target p99 <= 10 ms)', row(total))
    out('  e2e p99 of each round', rs.map((r) => ms(pct(r.total).p99)).join(' | '))
    out('  baseline: the bare hop, same process, same load', row(probe))
    const hop = pct(probe)
    const tot = pct(total)
    out(
      '  ratio e2e / bare hop under load, p50 | p99',
      `${(tot.p50 / hop.p50).toFixed(1)}x | ${(tot.p99 / hop.p99).toFixed(1)}x`,
    )
    if (lost) out('  events not stored within 15 s', fmt(lost))
    for (const [j, [k]] of rs[0]!.stages.entries()) out(`    ${k}`, row(rs.flatMap((r) => r.stages[j]![1])))
  }
  out('\np99 ratio defaults / tuned', (p99s[0]! / p99s[1]!).toFixed(1))
}

// ---- 2. bytes ----------------------------------------------------------------------------------------

const varint = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4)
/** MQTT 3.1.1 PUBLISH packet size [MQTT-3.3]: fixed header + topic + packet id (QoS > 0) + payload */
const publishBytes = (topic: string, payload: number, qos: 0 | 1) => {
  const rem = 2 + Buffer.byteLength(topic) + (qos ? 2 : 0) + payload
  return 1 + varint(rem) + rem
}

function fakeClock(start: number): Clock & { advance(ms: number): void } {
  let now = start
  return {
    now: () => now,
    advance: (d) => {
      now += d
    },
    setTimeout: (fn, t) => setTimeout(fn, t),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  }
}

async function bytesRun(window: string, minutes: number) {
  using dir = tempDir('fogline-bench-e2e-')
  const windowMs = window === '1m' ? 60_000 : 600_000
  const start = Math.ceil(Date.now() / windowMs) * windowMs
  const clock = fakeClock(start)
  const nodeId = `bytes-${window}`
  // the uplink goes through a counting TCP proxy in front of the cloud's broker
  const cloud = await startCloud({
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    store: { sqlite: join(dir.path, 'cloud.db') },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  })
  const upProxy = await startFaultProxy(Number(new URL(cloud.brokerUrl).port))
  // what reaches the cloud broker, by stream; subscribed first so the heartbeat sent on connect is seen
  const upBy: Record<string, { n: number; payload: number; packet: number }> = {}
  const obs = await client(cloud.brokerUrl, 'observer')
  obs.on('message', (topic, p) => {
    const s = topic.split('/').pop()!
    const e = (upBy[s] ??= { n: 0, payload: 0, packet: 0 })
    e.n++
    e.payload += p.length
    e.packet += publishBytes(topic, p.length, s === 'heartbeat' ? 0 : 1)
  })
  await obs.subscribeAsync(`fogline/v1/${nodeId}/up/#`, { qos: 0 })
  const fog = await startNode(
    parseConfig(NodeConfig, {
      nodeId,
      dataDir: join(dir.path, nodeId),
      broker: { port: 0 },
      log: { level: 'silent' },
      uplink: { urls: [upProxy.url] },
      pipelines: [
        {
          id: 'temps',
          input: ['sensors/+/+'],
          decoder: { type: 'json', value: '$.value', ts: '$.ts' },
          stages: [{ type: 'window', kind: 'tumbling', size: window }],
          output: { stream: 'summary' },
        },
      ],
    }),
    { clock, tickMs: 20 },
  )
  await waitFor(() => upBy['heartbeat'], 'uplink connected and first heartbeat')
  // from here on: the run's bytes, without CONNECT / SUBSCRIBE and the heartbeat sent on connect
  const up0 = upProxy.stats.bytesUp
  const down0 = upProxy.stats.bytesDown
  const hb0 = upBy['heartbeat']!.packet
  // each sensor its own connection, through a counting proxy in front of the node's broker
  const rawProxy = await startFaultProxy(fog.broker.port)
  const sensors = await Promise.all(
    Array.from({ length: SENSORS }, (_, s) => client(rawProxy.url, `sensor-${s}`)),
  )
  const connectBytes = rawProxy.stats.bytesUp
  let payloadBytes = 0
  let packetBytes = 0
  let readings = 0
  const value = Array.from({ length: SENSORS }, (_, s) => 20 + s / 10)
  let seed = 7
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const steps = (minutes * 60_000) / (1000 / SENSOR_HZ)
  const t = performance.now()
  for (let k = 0; k < steps; k++) {
    const ts = clock.now()
    for (let s = 0; s < SENSORS; s++) {
      // a random walk, 4 decimals, with the reading time: what the simulators send
      value[s] = Math.round((value[s]! + (rnd() - 0.5) * 0.1) * 1e4) / 1e4
      const topic = `sensors/s${String(s).padStart(3, '0')}/temperature`
      const p = Buffer.from(JSON.stringify({ value: value[s], ts }))
      payloadBytes += p.length
      packetBytes += publishBytes(topic, p.length, 0)
      readings++
      sensors[s]!.publish(topic, p, { qos: 0 })
    }
    // the clock moves only once the node has every reading of this step (processing-time windows)
    await waitFor(() => fog.stats().readingsIn === readings, 'readings in', 10_000, 0)
    clock.advance(1000 / SENSOR_HZ)
    // a window closed: let it reach the cloud before time runs on, so no ack looks late on the fake clock
    if (clock.now() % windowMs === 0)
      await waitFor(
        () => fog.uplink.stats().acked === (SENSORS * (clock.now() - start)) / windowMs,
        'summaries acked',
        20_000,
        5,
      )
  }
  const realSec = (performance.now() - t) / 1000
  const summaries = await cloud.store.countRecords({ nodeId, stream: 'summary' })
  const u = fog.uplink.stats()
  const res = {
    readings,
    realSec,
    payloadBytes,
    packetBytes,
    rawSocket: rawProxy.stats.bytesUp - connectBytes,
    summaries,
    bytesSent: u.bytesSent,
    resent: u.resent,
    upSocket: upProxy.stats.bytesUp - up0,
    downSocket: upProxy.stats.bytesDown - down0,
    hbRun: upBy['heartbeat']!.packet - hb0,
    upBy,
    simSec: minutes * 60,
  }
  await Promise.all([...sensors, obs].map((c) => c.endAsync(true)))
  await fog.stop()
  await Promise.all([rawProxy.close(), cloud.stop()])
  await upProxy.close()
  return res
}

async function bytesBench(): Promise<void> {
  console.log(`\n2. bytes uplinked vs raw: ${SENSORS} sensors x ${SENSOR_HZ} Hz, fake clock`)
  const runs: Array<[string, number]> = [
    ['1m', 5 * SCALE],
    ['10m', 10 * SCALE],
  ]
  for (const [w, min] of runs) {
    const r = await bytesRun(w, min)
    const hb = r.upBy['heartbeat'] ?? { n: 0, payload: 0, packet: 0 }
    const sum = r.upBy['summary'] ?? { n: 0, payload: 0, packet: 0 }
    // heartbeats go every 5 s of real time; the run compressed time, so count them as 5-s heartbeats would be
    const hbPerMsg = hb.packet / hb.n
    const upSocketScaled = r.upSocket - r.hbRun + (r.simSec / 5) * hbPerMsg
    const upSocket60 = r.upSocket - r.hbRun + (r.simSec / 60) * hbPerMsg
    console.log(
      `\n  ${w} windows, ${r.simSec} s simulated in ${r.realSec.toFixed(1)} s (${fmt(r.readings / r.realSec)} readings/s)`,
    )
    out(
      '  readings | summaries stored | resent',
      `${fmt(r.readings)} | ${fmt(r.summaries)} | ${fmt(r.resent)}`,
    )
    out(
      '  raw: MQTT payload bytes (B/reading)',
      `${fmt(r.payloadBytes)} (${(r.payloadBytes / r.readings).toFixed(1)})`,
    )
    out('  raw: MQTT PUBLISH packet bytes, computed', fmt(r.packetBytes))
    out('  raw: socket bytes sensors → node (proxy)', fmt(r.rawSocket))
    out(
      '  up: uplink.stats().bytesSent, batch payloads (B/summary)',
      `${fmt(r.bytesSent)} (${(r.bytesSent / r.summaries).toFixed(1)})`,
    )
    out(
      '  up: summary PUBLISH packets seen at the cloud broker',
      `${fmt(sum.packet)} in ${fmt(sum.n)} batches`,
    )
    out('  up: heartbeats seen in the run (B/heartbeat packet)', `${fmt(hb.n - 1)} (${hbPerMsg.toFixed(0)})`)
    out('  up: socket bytes node → cloud in the run (proxy), as measured', fmt(r.upSocket))
    out('  up: same, heartbeats every 5 s of simulated time (default)', fmt(upSocketScaled))
    out('  up: same, heartbeats every 60 s of simulated time', fmt(upSocket60))
    out('  down: socket bytes cloud → node in the run (acks)', fmt(r.downSocket))
    const ratio = (a: number, b: number) => `1/${fmt(b / a)}`
    out('  ratio batch payload / raw payload (target <= 1/1000)', ratio(r.bytesSent, r.payloadBytes))
    out('  ratio summary packets / raw packets', ratio(sum.packet, r.packetBytes))
    out(
      '  ratio up socket / raw socket, heartbeat 5 s (target <= 1/1000)',
      ratio(upSocketScaled, r.rawSocket),
    )
    out('  ratio up socket / raw socket, heartbeat 60 s', ratio(upSocket60, r.rawSocket))
  }
}

console.log('bench/e2e — shared 2-core machine: figures are noisy, compare ratios within one run')
const only = process.argv[2]
if (only !== 'bytes') await latencyBench()
if (only !== 'latency') await bytesBench()
process.exit(0)
