/**
 * bench/node-rss: RSS of the shipped fog node under the real sensor load (issue 12), per connection count and
 * across repeated load runs into one node process. The node is the built CLI (`packages/cli/dist/bin.js node`)
 * started the way deploy/fogline-node.service starts it: the unit's `Environment=` lines (NODE_OPTIONS,
 * MALLOC_ARENA_MAX, …) and ExecStart's node flags are read from the unit file and given to the child, so the
 * figure is what ships. Cloud
 * connected (in this process), the factory-line pipeline, journal on. Every run is printed (no best-of).
 * For each connection count (same 10,000 readings/s in total): a fresh node, a warm-up at QoS 1 of at least
 * WARMUP seconds and until the node reports MAJORS full GCs of the warm-up load (its heap is then at its working
 * size; see MAJORS), then RUNS load runs of SECONDS each
 * at each QoS, sensors disconnected between runs; per run the median and peak RSS under load, and the RSS
 * 2 s after the sensors left. Per added connection: the slope of the median RSS between connection counts.
 * Run: npm run build && npm run bench:rss   (it runs dist/)
 *   FOGLINE_BENCH_CONNS=100,1000,3000  FOGLINE_BENCH_RUNS=3  FOGLINE_BENCH_SECONDS=8  FOGLINE_BENCH_QOS=0,1
 *   FOGLINE_BENCH_WARMUP=60 s at least (0 and FOGLINE_BENCH_MAJORS=0: measured cold)
 *   FOGLINE_BENCH_MAJORS=2 full GCs in the warm-up, FOGLINE_BENCH_WARMUP_MAX=900 s (then measured anyway, said so)
 *   FOGLINE_BENCH_ROUNDS=1: fresh nodes for every count, again, in the opposite order each round; each round's
 *   slope is a least-squares fit over its nodes (one point a node: the median of its runs' median RSS)
 *   FOGLINE_BENCH_TOTAL=10000 readings/s in total; FOGLINE_BENCH_NODE_ENV='A=1 B=2' replaces the unit's
 *   environment (to compare flags), FOGLINE_BENCH_NODE_ARGS='--flag …' replaces the unit's ExecStart node flags
 *   ('' none), FOGLINE_BENCH_UNIT=path of another unit file.
 * RSS depends little on CPU noise, but a node that falls behind buffers readings: check the rate column.
 */
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { runTsChild, tempDir } from '@fogline/testkit'
import { readServiceUnit } from '../test/deploy/unit-file.js'
import { type BuiltNode, startBuiltNode } from './lib/fognode.js'
import { closedPort, cpuMs, fmt, machine, median, onLines, ROOT, rssMiB, sleep } from './lib/proc.js'
import { NODE_UNIT, nodeFlagsOr } from './lib/unit.js'

const env = process.env
const CONNS = (env['FOGLINE_BENCH_CONNS'] ?? '100,1000,3000').split(',').map(Number)
const RUNS = Number(env['FOGLINE_BENCH_RUNS'] ?? '3')
const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '8')
const TOTAL = Number(env['FOGLINE_BENCH_TOTAL'] ?? '10000')
const QOS = (env['FOGLINE_BENCH_QOS'] ?? '0,1').split(',').map((q) => (q === '1' ? 1 : 0)) as Array<0 | 1>
const UNIT = env['FOGLINE_BENCH_UNIT'] ?? NODE_UNIT
const SENSORS = join(ROOT, 'bench/lib/sensors.ts')
const WARM_MS = 3000
/**
 * Seconds of QoS 1 load each fresh node takes at least before its measured runs (then it waits for MAJORS
 * full GCs as well). V8 grows the old generation to its live size plus a fixed step (8 MiB) before a full GC;
 * how soon a node gets there depends on how much its load promotes: at 1,000 sensors x 10/s a sensor's state
 * lives 100 ms and is promoted, at 100 x 100/s it dies young, so without a warm-up the 100-connection node is
 * measured before its heap reached its working size (79 → 81 MiB over its first 150 s; docs/benchmarks.md).
 * FOGLINE_BENCH_WARMUP=0 FOGLINE_BENCH_MAJORS=0 measures cold, as this bench did first.
 */
const WARMUP = Number(env['FOGLINE_BENCH_WARMUP'] ?? '60')
/**
 * Full (mark-compact) GCs of the warm-up load the node must report before it is measured, counted by the node
 * itself: `nodejs_gc_duration_seconds_count{kind="major"}` on its ops endpoint (prom-client's GC observer, on in
 * the shipped node). Why a count and not a time: the RSS follows the old generation's committed pages, which
 * grow to the GC limit (the live heap + 8 MiB) and stay committed after the GC, and how soon a node gets there
 * is set by how much its load promotes, which differs 10-fold between 100 and 3,000 sensors. The first full GC
 * of the load sets the limit from the load's live heap; after the second the committed size is at that limit,
 * whatever the count. The 180-s warm-up this replaced was a guess at that time for the slowest node.
 */
const MAJORS = Number(env['FOGLINE_BENCH_MAJORS'] ?? '2')
/** the warm-up's end when MAJORS full GCs do not come: the node is measured anyway, and the bench says so */
const WARMUP_MAX = Number(env['FOGLINE_BENCH_WARMUP_MAX'] ?? '900')
/**
 * Rounds of fresh nodes. The RSS of a node at one count differs from another fresh node's at the same count by
 * 2-5 MiB (docs/benchmarks.md), which over the 900 connections from 100 to 1,000 is 2-6 KB each: a slope between
 * two single nodes measures that as much as the connections. More nodes per count, and a fit over all counts
 * (least squares: the span's ends weigh most), make the noise visible and smaller; every node is printed.
 */
const ROUNDS = Number(env['FOGLINE_BENCH_ROUNDS'] ?? '1')

/** The unit's `Environment=` pairs, or FOGLINE_BENCH_NODE_ENV's `K=V` pairs (a value may hold spaces). */
const nodeEnv = (): Record<string, string> =>
  env['FOGLINE_BENCH_NODE_ENV'] !== undefined
    ? Object.fromEntries(
        env['FOGLINE_BENCH_NODE_ENV']
          .split(/\s+(?=[A-Za-z_]+=)/)
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      )
    : readServiceUnit(UNIT).environment

/** node's own flags: FOGLINE_BENCH_NODE_ARGS ('' for none), default the unit's ExecStart flags */
const NODE_ARGS = nodeFlagsOr(env['FOGLINE_BENCH_NODE_ARGS'], UNIT)

interface Run {
  /** the round, and so the node process (one per count per round) */
  round: number
  conns: number
  qos: 0 | 1
  k: number
  rate: number
  /** CPU µs per reading of the node (noisy on a shared machine) */
  cpuUs: number
  rssMedian: number
  rssPeak: number
  rssAfter: number
}

/** What the node's own metrics say of its heap: full GCs so far, old space used and committed (MiB). */
interface HeapState {
  majors: number
  oldUsed: number
  oldTotal: number
}
async function heapState(opsUrl: string): Promise<HeapState> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text()
  const get = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN)
  return {
    // prom-client shows a GC kind once it has happened
    majors: /kind="major"/.test(text) ? get(/^nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)$/m) : 0,
    oldUsed: get(/^nodejs_heap_space_size_used_bytes\{space="old"\} (\S+)$/m) / 2 ** 20,
    oldTotal: get(/^nodejs_heap_space_size_total_bytes\{space="old"\} (\S+)$/m) / 2 ** 20,
  }
}
const heapLine = (a: HeapState, b: HeapState) =>
  `${b.majors - a.majors} full GC, old space ${b.oldUsed.toFixed(1)} of ${b.oldTotal.toFixed(1)} MiB`

/**
 * One load run of `seconds`; with `until`, it goes on past `seconds` (up to `max`) until `until` says so
 * (polled every second).
 */
async function loadRun(
  node: BuiltNode,
  prefix: string,
  conns: number,
  qos: 0 | 1,
  seconds = SECONDS,
  until?: { max: number; done: () => Promise<boolean> },
) {
  const perConn = TOTAL / conns
  const pub = runTsChild(SENSORS, [
    node.host,
    String(node.port),
    prefix,
    String(conns),
    String(perConn),
    String(qos),
    String((until?.max ?? seconds) + WARM_MS / 1000 + 60),
  ])
  onLines(pub.child, () => {})
  try {
    await pub.waitForLine(/^connected/, 120_000)
    await sleep(WARM_MS)
    const a = node.count()
    const c0 = cpuMs(node.proc.pid)
    const rss: number[] = []
    const timer = setInterval(() => rss.push(rssMiB(node.proc.pid)), 250)
    await sleep(seconds * 1000)
    if (until) {
      const end = Date.now() + (until.max - seconds) * 1000
      while (Date.now() < end && !(await until.done())) await sleep(1000)
    }
    clearInterval(timer)
    const b = node.count()
    const cpuUs = ((cpuMs(node.proc.pid) - c0) * 1000) / (b.n - a.n)
    const rate = ((b.n - a.n) * 1000) / (b.t - a.t)
    return { rate, cpuUs, rssMedian: median(rss), rssPeak: Math.max(...rss) }
  } finally {
    await pub.kill9()
    await sleep(2000)
  }
}

async function main(): Promise<void> {
  const ne = nodeEnv()
  console.log(
    `bench/node-rss — built CLI node, cloud connected, ${fmt(TOTAL)} readings/s in total, warm-up of ${WARMUP} s at least and ${MAJORS} full GCs (at most ${WARMUP_MAX} s) then ${RUNS} runs per QoS per node process; node environment: ${JSON.stringify(ne)}, node flags: ${JSON.stringify(NODE_ARGS)} (${machine()}; shared machine, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')})`,
  )
  using dir = tempDir('fogline-bench-rss-')
  const cloud = await startCloud({
    broker: { embedded: { port: 0 } },
    store: { sqlite: join(dir.path, 'cloud.db') },
    http: { port: 0 },
    log: { level: 'silent' },
  })
  const runs: Run[] = []
  try {
    for (let round = 1; round <= ROUNDS; round++)
      for (const conns of round % 2 === 1 ? CONNS : [...CONNS].reverse()) {
        const prefix = `rs${Math.random().toString(36).slice(2, 6)}`
        // the ops endpoint is on by default (port 0); a port picked here so the bench can read its metrics
        const opsPort = await closedPort()
        const opsUrl = `http://127.0.0.1:${opsPort}`
        const node = await startBuiltNode(join(dir.path, `n${conns}-r${round}`), {
          nodeId: `rss-${conns}`,
          prefix,
          cloudUrl: cloud.brokerUrl,
          conns,
          env: nodeEnv(),
          nodeArgs: NODE_ARGS,
          extra: { ops: { http: { host: '127.0.0.1', port: opsPort } } },
        })
        try {
          await sleep(1000)
          console.log(
            `\n${ROUNDS > 1 ? `round ${round}: ` : ''}${fmt(conns)} connections x ${(TOTAL / conns).toFixed(1)}/s: idle RSS ${rssMiB(node.proc.pid).toFixed(0)} MiB`,
          )
          if (WARMUP > 0 || MAJORS > 0) {
            const h0 = await heapState(opsUrl)
            const t0 = Date.now()
            const done = async () => (await heapState(opsUrl)).majors - h0.majors >= MAJORS
            const w = await loadRun(node, prefix, conns, 1, Math.min(WARMUP, WARMUP_MAX), {
              max: WARMUP_MAX,
              done,
            })
            const h1 = await heapState(opsUrl)
            const reached =
              h1.majors - h0.majors >= MAJORS
                ? ''
                : ` (NOT at its working size: ${MAJORS} full GCs not reached)`
            console.log(
              `  warm-up ${((Date.now() - t0) / 1000).toFixed(0)} s at QoS 1 (not counted): ${fmt(w.rate)}/s, RSS median ${w.rssMedian.toFixed(0)} MiB, peak ${w.rssPeak.toFixed(0)}, after ${rssMiB(node.proc.pid).toFixed(0)}; ${heapLine(h0, h1)}${reached}`,
            )
          }
          for (const qos of QOS)
            for (let k = 1; k <= RUNS; k++) {
              const h0 = await heapState(opsUrl)
              const r = await loadRun(node, prefix, conns, qos)
              const run: Run = { round, conns, qos, k, ...r, rssAfter: rssMiB(node.proc.pid) }
              runs.push(run)
              console.log(
                `  QoS ${qos} run ${k}: ${fmt(r.rate).padStart(7)}/s  CPU ${r.cpuUs.toFixed(1)} µs/reading  RSS median ${r.rssMedian.toFixed(0)} MiB, peak ${r.rssPeak.toFixed(0)}, after ${run.rssAfter.toFixed(0)}; ${heapLine(h0, await heapState(opsUrl))}`,
              )
            }
        } finally {
          await node.proc.stop('SIGTERM')
        }
      }
  } finally {
    await cloud.stop()
  }
  summary(runs)
}

function summary(runs: Run[]): void {
  console.log("\nper connection count: median of the runs' median RSS (MiB), range of peaks")
  const byConns = CONNS.map((c) => {
    const rs = runs.filter((r) => r.conns === c)
    return { c, med: median(rs.map((r) => r.rssMedian)), peaks: rs.map((r) => r.rssPeak) }
  })
  for (const { c, med, peaks } of byConns)
    console.log(
      `  ${fmt(c).padStart(6)}: ${med.toFixed(1)} MiB, peaks ${Math.min(...peaks).toFixed(0)}–${Math.max(...peaks).toFixed(0)}`,
    )
  const slope = (a: (typeof byConns)[number], b: (typeof byConns)[number]) =>
    console.log(
      `  per added connection ${fmt(a.c)} → ${fmt(b.c)}: ${(((b.med - a.med) * 1024) / (b.c - a.c)).toFixed(1)} KB (target <= 8)`,
    )
  for (let i = 1; i < byConns.length; i++) slope(byConns[i - 1]!, byConns[i]!)
  // a node's RSS moves 2-5 MiB between runs, which over 900 connections is 2-6 KB each: the whole span too
  if (byConns.length > 2) slope(byConns[0]!, byConns[byConns.length - 1]!)
  if (CONNS.length < 2) return
  // one point per node: the median of its runs' medians
  const nodes = [...new Set(runs.map((r) => `${r.round}:${r.conns}`))].map((key) => {
    const rs = runs.filter((r) => `${r.round}:${r.conns}` === key)
    return { round: rs[0]!.round, x: rs[0]!.conns, y: median(rs.map((r) => r.rssMedian)) }
  })
  console.log(
    'least-squares slope over the nodes (one point a node: the median of its runs), KB per added connection:',
  )
  const rounds = [...new Set(nodes.map((n) => n.round))]
  if (rounds.length > 1)
    for (const round of rounds) {
      const ns = nodes.filter((n) => n.round === round)
      console.log(
        `  round ${round}: ${fitSlopeKB(ns).toFixed(1)} KB (${ns.map((n) => `${fmt(n.x)}: ${n.y.toFixed(1)} MiB`).join(', ')}; target <= 8)`,
      )
    }
  console.log(`  all ${nodes.length} nodes: ${fitSlopeKB(nodes).toFixed(1)} KB (target <= 8)`)
}

/** least-squares slope of RSS (MiB) over connections, in KB per connection */
function fitSlopeKB(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length
  const mx = points.reduce((a, p) => a + p.x, 0) / n
  const my = points.reduce((a, p) => a + p.y, 0) / n
  let sxy = 0
  let sxx = 0
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my)
    sxx += (p.x - mx) ** 2
  }
  return (sxy / sxx) * 1024
}

await main()
process.exit(0)
