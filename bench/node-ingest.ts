/**
 * bench/node-ingest: a whole fog node taking sensor readings, side by side with its peers, on the same load.
 * The load: 1,000 sensors, JSON `{"value":…,"ts":…}` on `<run>/sensors/<id>/temperature`, QoS 0, from a
 * publisher child process (4 mqtt.js connections with TCP_NODELAY, writing pre-encoded PUBLISH packets so the
 * load generator costs little CPU) — either as fast as the broker takes them (TCP backpressure) or paced.
 * The pipeline: json decode → validate → deadband 0.05 → 1-min tumbling window, 6 aggregates (as bench/pipeline).
 *   1. ingest: the fog node (startNode in this process) readings/s (node.stats().readingsIn) vs Mosquitto
 *      127.0.0.1:1883 forwarding the same load to one subscriber child on `<run>/sensors/#` (msgs/s it got) vs
 *      bare aedes (port 0, noDelay, in this process) forwarding it; plus @fogline/broker with no pipeline. The
 *      subscriber is a minimal MQTT client that only counts PUBLISH packets, so it does not cap the brokers.
 *      CPU per reading of the process doing the work (Mosquitto's or this one) is shown too: it does not
 *      depend on how the 2 cores are shared between broker, publisher and subscriber.
 *   2. memory: the fog node CLI (`fogline node --config`) from the current sources bundled to plain JS, as a
 *      child, idle and paced at 10k readings/s for 20 s, VmRSS from /proc; baselines bare Node and bare aedes
 *      (plain node children, same paced load); and the same node with --max-semi-space-size=1.
 *   3. Node-RED 4 doing the same work (mqtt in → json → function: validate, deadband, per-sensor 1-min window
 *      with the same 6 aggregates in context); installed on demand into bench/.node-red, never by npm ci.
 * Fairness of 3: Node-RED has no broker of its own, so each system runs as it would on a gateway: the sensors
 * publish to the fog node's embedded broker, or to Mosquitto with Node-RED subscribed to it. "Readings/s" is
 * what each system's aggregation step processed (fog node: readingsIn, each goes through the pipeline
 * synchronously; Node-RED: messages counted at the function node). Mosquitto gets its own process (and core)
 * in the Node-RED stack, which favours Node-RED on throughput, so CPU per reading of Node-RED alone and of
 * Node-RED + Mosquitto are reported too; memory compares the Node-RED process alone (Mosquitto excluded,
 * again in Node-RED's favour). Node-RED's function closes a window only when the sensor's next reading is in
 * a new minute (no timer) and sends summaries nowhere, which is less work than the fog node does (windows
 * closed on a timer, summaries into the SQLite outbox). The fog node's uplink points at a closed port (no
 * cloud), so no uplink traffic is in any figure.
 * Run: node --conditions=source --import tsx bench/node-ingest.ts  (npm run bench:node)
 *   FOGLINE_BENCH_SECONDS=4 measured seconds per throughput case, FOGLINE_BENCH_ROUNDS=2 (best of),
 *   FOGLINE_BENCH_RSS_SECONDS=20 paced run, FOGLINE_BENCH_NODE_RED=0 skips Node-RED,
 *   FOGLINE_BENCH_NODE_FLAGS='--max-semi-space-size=2' extra node flags for the fog node child,
 *   FOGLINE_BENCH_PUB=mqttjs publishes through mqtt.js publish() instead of pre-encoded packets.
 * Figures from a shared 2-core machine are noisy: compare the ratios within one run, not across runs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBroker } from '@fogline/broker'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import { mosquittoAvailable, runTsChild, startTestBroker, tempDir, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { ensureNodeRed, writeNodeRedFiles } from './node-red/flow.js'

const env = process.env
const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '4')
const ROUNDS = Number(env['FOGLINE_BENCH_ROUNDS'] ?? '2')
const RSS_SECONDS = Number(env['FOGLINE_BENCH_RSS_SECONDS'] ?? '20')
const WARM_MS = 1000
const SENSORS = 1000
const PER_SENSOR = 50
const CLIENTS = 4
const PACED = 10_000
const SELF = fileURLToPath(import.meta.url)
const ROOT = join(dirname(SELF), '..')
const MOSQUITTO = { host: '127.0.0.1', port: 1883 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a')
const mib = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a')

/** [MQTT-2.2.3] remaining length as a variable byte integer */
function varint(x: number): number[] {
  const out: number[] = []
  do {
    const b = x % 128
    x = Math.floor(x / 128)
    out.push(x > 0 ? b | 128 : b)
  } while (x > 0)
  return out
}
const str16 = (s: string) => {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b])
}
/** A control packet: fixed header byte, remaining length, body. */
const packet = (first: number, ...body: Buffer[]) => {
  const b = Buffer.concat(body)
  return Buffer.concat([Buffer.from([first, ...varint(b.length)]), b])
}

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
async function publisherRole(host: string, port: number, prefix: string, rate: number, seconds: number) {
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

/**
 * --sub host port filter: a minimal MQTT 3.1.1 subscriber that only counts PUBLISH packets, so that its own
 * parsing (mqtt.js spends several µs on each message) does not cap the broker being measured.
 * Prints `n <count> <ms>`.
 */
async function subscriberRole(host: string, port: number, filter: string) {
  const sock = createConnection({ host, port, noDelay: true })
  await new Promise((r) => sock.once('connect', r))
  // CONNECT: "MQTT", level 4, clean session; keep alive 0 turns the keep-alive mechanism off [MQTT-3.1.2-10]
  sock.write(packet(0x10, str16('MQTT'), Buffer.from([4, 0x02, 0, 0]), str16(`fogbench-sub-${process.pid}`)))
  // SUBSCRIBE: fixed header flags 0010 [MQTT-3.8.1-1], packet id 1, the filter at QoS 0
  sock.write(packet(0x82, Buffer.from([0, 1]), str16(filter), Buffer.from([0])))
  let n = 0
  let rest: Buffer = Buffer.alloc(0)
  sock.on('data', (d: Buffer) => {
    const buf = rest.length ? Buffer.concat([rest, d]) : d
    let i = 0
    for (;;) {
      // fixed header: type in the high nibble, then the remaining length (1 to 4 bytes)
      let len = 0
      let mul = 1
      let j = i + 1
      let b = 128
      while (b & 128 && j < buf.length) {
        b = buf[j++]!
        len += (b & 127) * mul
        mul *= 128
      }
      if (b & 128 || j + len > buf.length) break
      const type = buf[i]! >> 4
      if (type === 3) n++
      else if (type === 9) console.log('sub ready') // SUBACK
      i = j + len
    }
    rest = buf.subarray(i)
  })
  sock.on('close', () => process.exit(1))
  setInterval(() => console.log(`n ${n} ${Date.now()}`), 250)
}

// bare aedes as a plain Node child (no tsx): the broker the fog node is built on, ingest only
const AEDES_CHILD = `import { createServer } from 'node:net'
import { Aedes } from 'aedes'
let n = 0
const aedes = await Aedes.createBroker({ published(p, c, done) { if (c) n++; done() } })
const s = createServer({ noDelay: true }, (sock) => aedes.handle(sock))
s.listen(0, '127.0.0.1', () => console.log('aedes port ' + s.address().port))
setInterval(() => console.log('n ' + n + ' ' + Date.now()), 250)`

// ---------------------------------------------------------------------------------------- measuring
interface Sample {
  t: number
  n: number
}

function onLines(child: ChildProcess, fn: (line: string) => void): void {
  let partial = ''
  const on = (d: Buffer) => {
    partial += d.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) fn(l)
  }
  child.stdout?.on('data', on)
  child.stderr?.on('data', on)
}

/** The latest `count` a child printed (with its own clock when the line carries one). */
function track(child: ChildProcess, re: RegExp): () => Sample {
  let last: Sample = { t: Date.now(), n: 0 }
  onLines(child, (l) => {
    const m = re.exec(l)
    if (m) last = { n: Number(m[1]), t: m[2] ? Number(m[2]) : Date.now() }
  })
  return () => last
}

interface Plain {
  child: ChildProcess
  pid: number
  line(re: RegExp, ms?: number): Promise<RegExpExecArray>
  stop(): Promise<void>
}

/** A plain `node` child (no tsx, so its RSS is what the program costs, not a loader thread). */
function spawnPlain(args: string[], cwd = ROOT): Plain {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  onLines(child, (l) => {
    out = `${out.slice(-4000)}${l}\n`
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    child,
    pid: child.pid ?? -1,
    line: (re, ms = 30_000) =>
      waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`child exited:\n${out}`)
          return re.exec(out)
        },
        `${re} from ${args.join(' ').slice(0, 80)} (output: ${out.slice(-500)})`,
        ms,
      ),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

let CLK_TCK = 100
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100
} catch {}
/** CPU time (ms) a process has used so far. */
function cpuMs(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
}
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}
/** the second half of a series of samples: past the warm-up growth */
const late = (xs: number[]) => xs.slice(Math.floor(xs.length / 2))
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)]! : Number.NaN
}

function mosquittoPid(): number | undefined {
  try {
    const p = Number(readFileSync('/run/mosquitto/mosquitto.pid', 'utf8').trim())
    if (p > 0 && existsSync(`/proc/${p}`)) return p
  } catch {}
  for (const d of readdirSync('/proc'))
    try {
      if (/^\d+$/.test(d) && readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'mosquitto') return Number(d)
    } catch {}
  return undefined
}

/** A port nobody listens on (bound once with port 0, then closed): the node's uplink has no cloud. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

interface Run {
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
async function loadRun(
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
const table: Array<[string, string, string]> = []
function row(what: string, figure: string, vs = ''): void {
  table.push([what, figure, vs])
  console.log(`${what.padEnd(66)} ${figure.padStart(14)}  ${vs}`)
}
const ratio = (a: number, b: number) => (a / b).toFixed(2)

function nodeConfigInput(prefix: string, dataDir: string, uplinkPort: number) {
  return {
    nodeId: 'bench-node',
    dataDir,
    broker: { host: '127.0.0.1', port: 0 },
    uplink: { urls: [`mqtt://127.0.0.1:${uplinkPort}`] },
    log: { level: 'silent' as const },
    pipelines: [
      {
        id: 'bench',
        input: [`${prefix}/sensors/+/+`],
        decoder: {
          type: 'json' as const,
          value: '$.value',
          ts: '$.ts',
          sensorId: 'topic[2]',
          metric: 'topic[3]',
        },
        stages: [
          { type: 'validate', min: -50, max: 150 },
          { type: 'deadband', absolute: 0.05 },
          {
            type: 'window',
            kind: 'tumbling',
            size: '1m',
            aggregates: ['count', 'min', 'max', 'mean', 'sum', 'stddev'],
          },
        ],
        output: { stream: 'summary' },
      },
    ],
  }
}

// ---------------------------------------------------------------------------------------- 1. ingest
async function ingestBench(prefix: string, mosq: number | undefined): Promise<number> {
  console.log(`\n1. ingest, ${SENSORS} sensors, QoS 0 as fast as each broker takes it, best of ${ROUNDS}`)
  using dir = tempDir('fogline-bench-node-')
  const node = await startNode(
    parseConfig(NodeConfig, nodeConfigInput(prefix, join(dir.path, 'node'), await closedPort())),
  )
  const aedes = await startTestBroker()
  let brokerOnly = 0
  const fogBroker = await startBroker({ port: 0, onMessage: () => void brokerOnly++ })
  const local = (url: string) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })
  const best: Record<string, Run> = {}
  const keep = (k: string, r: Run) => {
    if (!best[k] || r.rate > best[k].rate) best[k] = r
    console.log(
      `  ${k.padEnd(26)} ${fmt(r.rate).padStart(9)}/s  (publisher offered ${fmt(r.offered)}/s, CPU ${Object.entries(
        r.cpuPct,
      )
        .map(([p, v]) => `${p} ${v.toFixed(0)} %`)
        .join(', ')})`,
    )
  }
  const forward = async (target: { host: string; port: number }, watch: Record<string, number>) => {
    const sub = runTsChild(SELF, ['--sub', target.host, String(target.port), `${prefix}/sensors/#`])
    try {
      await sub.waitForLine(/^sub ready/)
      // loadRun returns once the subscriber has everything: aedes queues what it cannot forward yet (no
      // backpressure to QoS 0 publishers), and a subscriber that leaves with that queue full makes mqemitter
      // recurse once per queued message until the stack overflows (mcollina/mqemitter#204)
      return await loadRun(target, prefix, track(sub.child, /^n (\d+) (\d+)/), watch, {
        also: { sub: sub.pid },
      })
    } finally {
      await sub.kill9()
    }
  }
  try {
    for (let r = 0; r < ROUNDS; r++) {
      if (mosq !== undefined) keep('mosquitto', await forward(MOSQUITTO, { mosquitto: mosq }))
      keep('aedes', await forward(local(aedes.url), { aedes: process.pid }))
      const bo = () => ({ t: Date.now(), n: brokerOnly })
      keep('broker-only', await loadRun(local(fogBroker.url), prefix, bo, { 'fog broker': process.pid }))
      const fog = () => ({ t: Date.now(), n: node.stats().readingsIn })
      keep('fog', await loadRun(local(node.brokerUrl), prefix, fog, { 'fog node': process.pid }))
    }
    const s = node.stats()
    console.log(
      `  fog node: ${fmt(s.readingsIn)} readings in, ${s.malformed} malformed, ${s.deadLetters} dead letters, ` +
        `${fmt(s.outputs.summary ?? 0)} summaries`,
    )
  } finally {
    await node.stop()
    await aedes.close()
    await fogBroker.close()
  }
  const fog = best['fog']!
  const a = best['aedes']!
  const m = best['mosquitto']
  console.log('')
  if (m) row('Mosquitto forwarding: 4 pubs → Mosquitto → 1 sub (msg/s)', fmt(m.rate), 'baseline')
  row(
    'bare aedes forwarding, port 0, noDelay (msg/s)',
    fmt(a.rate),
    m ? `${ratio(a.rate, m.rate)}x Mosquitto` : '',
  )
  row(
    '@fogline/broker ingest, no pipeline (msg/s)',
    fmt(best['broker-only']!.rate),
    m ? `${ratio(best['broker-only']!.rate, m.rate)}x Mosquitto` : '',
  )
  row(
    'fog node ingest, pipeline on (readings/s)',
    fmt(fog.rate),
    m
      ? `${ratio(fog.rate, m.rate)}x Mosquitto (target >= 1.0), ${ratio(fog.rate, a.rate)}x bare aedes`
      : `${ratio(fog.rate, a.rate)}x bare aedes`,
  )
  const cpu = (r: Run) => r.cpuUs[r.sut]!
  row(
    'CPU µs per reading: Mosquitto | aedes | broker-only | fog node',
    [m ? cpu(m) : Number.NaN, cpu(a), cpu(best['broker-only']!), cpu(fog)]
      .map((x) => x.toFixed(1))
      .join(' | '),
    m ? `fog node ${ratio(cpu(fog), cpu(m))}x Mosquitto's CPU per reading` : '',
  )
  return fog.rate
}

// ---------------------------------------------------------------------------------------- 2. memory
/**
 * The fog node CLI from the current sources as plain JavaScript: esbuild bundles the workspace packages
 * (source condition) and leaves every npm dependency external. A child run through tsx would carry tsx's
 * module-loader thread in its RSS, and dist/ may be older than the sources, so neither is used here. The
 * bundle goes under node_modules/.cache so that its bare imports resolve to the repo's node_modules.
 */
async function bundleFogCli(): Promise<string> {
  const { build } = await import('esbuild')
  const outdir = join(ROOT, 'node_modules', '.cache', 'fogline-bench-node')
  rmSync(outdir, { recursive: true, force: true })
  await build({
    entryPoints: [join(ROOT, 'packages/cli/src/bin.ts')],
    outdir,
    bundle: true,
    splitting: true, // the CLI loads its commands lazily: keep cloud and demo code out of the node's process
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['source'],
    logLevel: 'error',
    plugins: [
      {
        name: 'npm-deps-external',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@fogline/') ? undefined : { path: a.path, external: true },
          )
        },
      },
    ],
  })
  return join(outdir, 'bin.js')
}

interface FogChild {
  proc: Plain
  target: { host: string; port: number }
  count: () => Sample
}

/** `fogline node --config` (the bundled CLI) as a plain Node child; counts from its status lines. */
async function startFogChild(
  prefix: string,
  dir: string,
  bin: string,
  flags: string[] = [],
): Promise<FogChild> {
  mkdirSync(dir, { recursive: true })
  const cfg = join(dir, 'node.yaml')
  // JSON is YAML: the config loader reads it as any config file
  writeFileSync(cfg, JSON.stringify(nodeConfigInput(prefix, join(dir, 'child-node'), await closedPort())))
  flags = flags.concat((env['FOGLINE_BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean))
  const proc = spawnPlain([...flags, bin, 'node', '--config', cfg, '--status-every', '0.25'])
  const count = track(proc.child, /^\[[^\]]+\] in=(\d+) /)
  const m = await proc.line(/sensors publish to mqtt:\/\/([\d.]+):(\d+)/)
  return { proc, target: { host: m[1]!, port: Number(m[2]) }, count }
}

interface MemResult {
  /** CPU µs per reading at the paced rate */
  fogCpu10k: number
  fogIdle: number
  fog10k: number
  fogPeak: number
  fogChild: FogChild
}

async function memoryBench(prefix: string, dir: string): Promise<MemResult> {
  console.log(`\n2. memory (VmRSS), paced ${fmt(PACED)} readings/s`)
  const bare = spawnPlain(['-e', 'setInterval(() => {}, 1000); console.log("ready")'])
  await bare.line(/ready/)
  await sleep(1000)
  const bareRss = rssMiB(bare.pid)
  await bare.stop()

  const ae = spawnPlain(['--input-type=module', '-e', AEDES_CHILD])
  const ap = await ae.line(/aedes port (\d+)/)
  await sleep(1000)
  const aeIdle = rssMiB(ae.pid)
  const aeRun = await loadRun(
    { host: '127.0.0.1', port: Number(ap[1]) },
    prefix,
    track(ae.child, /^n (\d+) (\d+)/),
    { aedes: ae.pid },
    { rate: PACED, seconds: 8 },
  )
  await ae.stop()

  // esbuild comes with tsx; should it ever be missing, the built CLI (which may lag the sources) stands in
  const bin = await bundleFogCli().catch((err: unknown) => {
    console.log(
      `  could not bundle the CLI (${(err as Error).message}); using packages/cli/dist (run npm run build)`,
    )
    return join(ROOT, 'packages/cli/dist/bin.js')
  })
  const fogChild = await startFogChild(prefix, dir, bin)
  await sleep(2000)
  const fogIdle = rssMiB(fogChild.proc.pid)
  const fr = await loadRun(
    fogChild.target,
    prefix,
    fogChild.count,
    { fog: fogChild.proc.pid },
    { rate: PACED, seconds: RSS_SECONDS },
  )
  const fog10k = median(late(fr.rss['fog']!))
  const fogPeak = Math.max(...fr.rss['fog']!)
  const ae10k = median(late(aeRun.rss['aedes']!))
  // how much of that is V8 sizing its young generation for the allocation rate rather than live data: the
  // same node with 1 MiB semi-spaces (a node flag, no code change)
  const small = await startFogChild(prefix, join(dir, 'semi'), bin, ['--max-semi-space-size=1'])
  let semi: Run
  try {
    await sleep(1000)
    semi = await loadRun(
      small.target,
      prefix,
      small.count,
      { fog: small.proc.pid },
      { rate: PACED, seconds: 8 },
    )
  } finally {
    await small.proc.stop()
  }
  const semi10k = median(late(semi.rss['fog']!))
  console.log(`  fog node child: node ${bin.slice(ROOT.length + 1)} node --config …`)
  console.log('')
  row('bare Node idle RSS (MiB)', mib(bareRss), 'baseline')
  row('bare aedes idle RSS (MiB)', mib(aeIdle), `${ratio(aeIdle, bareRss)}x bare Node`)
  row(
    `bare aedes at ${fmt(aeRun.rate)} readings/s, median RSS (MiB)`,
    mib(ae10k),
    `${ratio(ae10k, bareRss)}x bare Node; CPU ${aeRun.cpuPct['aedes']!.toFixed(0)} % of a core`,
  )
  row('fog node idle RSS (MiB)', mib(fogIdle), `${ratio(fogIdle, aeIdle)}x bare aedes idle`)
  row(
    `fog node at ${fmt(fr.rate)} readings/s for ${RSS_SECONDS} s, median RSS (MiB)`,
    mib(fog10k),
    `target <= 70; ${ratio(fog10k, ae10k)}x bare aedes at the same load; CPU ${fr.cpuPct['fog']!.toFixed(0)} %`,
  )
  row('fog node peak RSS during the paced run (MiB)', mib(fogPeak), `target <= 70`)
  row(
    `fog node with --max-semi-space-size=1 at ${fmt(semi.rate)}/s, median RSS (MiB)`,
    mib(semi10k),
    `target <= 70; ${ratio(semi10k, fog10k)}x default flags; CPU ${semi.cpuPct['fog']!.toFixed(0)} %`,
  )
  return { fogCpu10k: fr.cpuUs['fog']!, fogIdle, fog10k, fogPeak, fogChild }
}

// ---------------------------------------------------------------------------------------- 3. Node-RED
async function nodeRedBench(prefix: string, dir: string, mem: MemResult, mosq: number | undefined) {
  console.log('\n3. Node-RED 4 on the same work (Mosquitto → mqtt in → json → function) vs the fog node')
  if (env['FOGLINE_BENCH_NODE_RED'] === '0') return console.log('  skipped (FOGLINE_BENCH_NODE_RED=0)')
  if (mosq === undefined) return console.log('  skipped: Node-RED needs the Mosquitto on 127.0.0.1:1883')
  const red = ensureNodeRed()
  if ('error' in red) return console.log(`  skipped: Node-RED could not be installed: ${red.error}`)
  const settings = writeNodeRedFiles(dir, MOSQUITTO, `${prefix}/sensors/#`)
  const nr = spawnPlain([red.redJs, '--settings', settings, '--userDir', dir], dir)
  try {
    const count = track(nr.child, /fogbench count=(\d+) t=(\d+)/)
    await nr.line(/fogbench count=/, 60_000)
    await sleep(1500) // the mqtt in node subscribes once its broker connection is up
    const nrIdle = rssMiB(nr.pid)
    const paced = await loadRun(
      MOSQUITTO,
      prefix,
      count,
      { nr: nr.pid },
      {
        rate: PACED,
        seconds: 8,
        also: { mosquitto: mosq },
      },
    )
    const nr10k = median(late(paced.rss['nr']!))
    const fog = mem.fogChild
    let bestNr: Run | undefined
    let bestFog: Run | undefined
    for (let r = 0; r < ROUNDS; r++) {
      const a = await loadRun(MOSQUITTO, prefix, count, { nr: nr.pid, mosquitto: mosq })
      const b = await loadRun(fog.target, prefix, fog.count, { fog: fog.proc.pid })
      const pct = (r: Run) =>
        Object.entries(r.cpuPct)
          .map(([p, v]) => `${p} ${v.toFixed(0)} %`)
          .join(', ')
      console.log(`  Node-RED ${fmt(a.rate)}/s (offered ${fmt(a.offered)}/s; CPU ${pct(a)})`)
      console.log(`  fog node ${fmt(b.rate)}/s (offered ${fmt(b.offered)}/s; CPU ${pct(b)})`)
      if (!bestNr || a.rate > bestNr.rate) bestNr = a
      if (!bestFog || b.rate > bestFog.rate) bestFog = b
    }
    const n = bestNr!
    const f = bestFog!
    const nrPeak = Math.max(...n.rss['nr']!)
    const fogSatPeak = Math.max(...f.rss['fog']!)
    const nrCpu = n.cpuUs['nr']!
    // at the paced rate nothing is dropped, so Mosquitto's CPU per reading is not inflated by readings that
    // Node-RED never takes (saturated, Mosquitto takes far more than Node-RED can process)
    const nrCpu10k = paced.cpuUs['nr']!
    const stackCpu10k = nrCpu10k + paced.cpuUs['mosquitto']!
    console.log('')
    row(`Node-RED ${red.version}: readings/s processed, saturated`, fmt(n.rate), 'baseline')
    row(
      'fog node CLI (child): readings/s, saturated',
      fmt(f.rate),
      `${ratio(f.rate, n.rate)}x Node-RED (target >= 5)`,
    )
    row(
      'CPU µs/reading, saturated: Node-RED | fog node',
      `${nrCpu.toFixed(1)} | ${f.cpuUs['fog']!.toFixed(1)}`,
      `Node-RED ${ratio(nrCpu, f.cpuUs['fog']!)}x the fog node's`,
    )
    row(
      `CPU µs/reading at ${fmt(PACED)}/s: Node-RED | + Mosquitto | fog node`,
      `${nrCpu10k.toFixed(1)} | ${stackCpu10k.toFixed(1)} | ${mem.fogCpu10k.toFixed(1)}`,
      `Node-RED ${ratio(nrCpu10k, mem.fogCpu10k)}x, with Mosquitto ${ratio(stackCpu10k, mem.fogCpu10k)}x the fog node's`,
    )
    row(
      'Node-RED idle RSS (MiB)',
      mib(nrIdle),
      `fog node idle ${mib(mem.fogIdle)} = ${ratio(mem.fogIdle, nrIdle)}x`,
    )
    row(
      `Node-RED at ${fmt(paced.rate)} readings/s, median RSS (MiB)`,
      mib(nr10k),
      `fog node ${mib(mem.fog10k)} = ${ratio(mem.fog10k, nr10k)}x Node-RED (target <= 0.5)`,
    )
    row(
      'peak RSS saturated: Node-RED | fog node (MiB)',
      `${mib(nrPeak)} | ${mib(fogSatPeak)}`,
      `fog node ${ratio(fogSatPeak, nrPeak)}x Node-RED`,
    )
  } finally {
    await nr.stop()
  }
}

// ---------------------------------------------------------------------------------------- main
const role = process.argv[2]
if (role === '--pub') {
  const [host, port, prefix, rate, seconds] = process.argv.slice(3)
  await publisherRole(host!, Number(port), prefix!, Number(rate), Number(seconds))
} else if (role === '--sub') {
  const [host, port, filter] = process.argv.slice(3)
  await subscriberRole(host!, Number(port), filter!)
} else {
  await main()
  process.exit(0)
}

async function main(): Promise<void> {
  console.log(
    'bench/node-ingest — shared 2-core machine: figures are noisy, compare the ratios within one run',
  )
  const t0 = performance.now()
  const prefix = `fb${Math.random().toString(36).slice(2, 6)}`
  const mosq = (await mosquittoAvailable(4)) ? mosquittoPid() : undefined
  if (mosq === undefined)
    console.log('Mosquitto is not on 127.0.0.1:1883 (or its pid is unknown): its rows are skipped')
  using dir = tempDir('fogline-bench-node-')
  const took = (t: number) => console.log(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`)
  let t = performance.now()
  await ingestBench(prefix, mosq)
  took(t)
  t = performance.now()
  const mem = await memoryBench(prefix, dir.path)
  took(t)
  try {
    t = performance.now()
    await nodeRedBench(prefix, dir.path, mem, mosq)
    took(t)
  } finally {
    await mem.fogChild.proc.stop()
  }
  console.log(`\nsummary (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
  for (const [what, figure, vs] of table) console.log(`${what.padEnd(66)} ${figure.padStart(14)}  ${vs}`)
}
