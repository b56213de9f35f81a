/**
 * bench/node-ab: two built fog nodes side by side under the same real-sensor load at the same time, each with
 * its own environment (A and B), so that a shared machine's noise hits both alike: CPU µs per reading and RSS
 * of each over the same seconds, and the ratio B / A. For comparing runtime options (V8 flags) or two builds.
 * Each node gets CONNS sensors at RATE/s (bench/lib/sensors.ts), cloud connected (in this process).
 * Run: npm run build && node --conditions=source --import tsx bench/node-ab.ts
 *   FOGLINE_AB_A='NODE_OPTIONS=…', FOGLINE_AB_B='NODE_OPTIONS=…' (each side's default: the gateway unit's
 *   environment, so that a config comparison runs both sides on the V8 flags that ship; '' gives Node's defaults),
 *   FOGLINE_AB_A_ARGS='--flag …', FOGLINE_AB_B_ARGS (node's own flags; default: the unit's ExecStart flags, '' none),
 *   FOGLINE_BENCH_CONNS=1000, FOGLINE_BENCH_RATE=10, FOGLINE_BENCH_QOS=1, FOGLINE_BENCH_SECONDS=15,
 *   FOGLINE_BENCH_ROUNDS=2 (fresh nodes each round; A and B swap start order),
 *   FOGLINE_AB_A_BROKER / FOGLINE_AB_B_BROKER: JSON merged into that side's broker config, e.g. '{"fastPath":false}';
 *   FOGLINE_AB_A_CONFIG / FOGLINE_AB_B_CONFIG: other config sections, e.g. '{"ingest":{"journal":false}}';
 *   FOGLINE_AB_A_ROOT / FOGLINE_AB_B_ROOT: another checkout (built) whose CLI that side runs, to compare two
 *   builds (e.g. `git worktree add /tmp/base main && cd /tmp/base && npm ci && npm run build`).
 */
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { type ChildRun, runTsChild, tempDir } from '@fogline/testkit'
import { readServiceUnit } from '../test/deploy/unit-file.js'
import { type BuiltNode, startBuiltNode } from './lib/fognode.js'
import { cpuMs, fmt, machine, median, onLines, ROOT, rssMiB, sleep } from './lib/proc.js'
import { NODE_UNIT, nodeFlagsOr } from './lib/unit.js'

const env = process.env
const CONNS = Number(env['FOGLINE_BENCH_CONNS'] ?? '1000')
const RATE = Number(env['FOGLINE_BENCH_RATE'] ?? '10')
const QOS = env['FOGLINE_BENCH_QOS'] ?? '1'
const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '15')
const ROUNDS = Number(env['FOGLINE_BENCH_ROUNDS'] ?? '2')

/** `K=V K2=V2` (a value may hold spaces: a new pair starts at a `NAME=`) */
const pairs = (s: string): Record<string, string> =>
  Object.fromEntries(
    s
      .split(/\s+(?=[A-Za-z_]+=)/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  )
const sideEnv = (v: string | undefined) =>
  v !== undefined ? pairs(v) : readServiceUnit(NODE_UNIT).environment
const ENVS: Record<'A' | 'B', Record<string, string>> = {
  A: sideEnv(env['FOGLINE_AB_A']),
  B: sideEnv(env['FOGLINE_AB_B']),
}
/** node's own flags per side: FOGLINE_AB_A_ARGS / FOGLINE_AB_B_ARGS ('' for none), default the unit's ExecStart flags */
const ARGS: Record<'A' | 'B', string[]> = {
  A: nodeFlagsOr(env['FOGLINE_AB_A_ARGS']),
  B: nodeFlagsOr(env['FOGLINE_AB_B_ARGS']),
}

interface Side {
  node: BuiltNode
  pub: ChildRun
}

async function round(k: number, cloudUrl: string, dir: string): Promise<Record<'A' | 'B', [number, number]>> {
  const order: Array<'A' | 'B'> = k % 2 === 0 ? ['A', 'B'] : ['B', 'A']
  const sides = {} as Record<'A' | 'B', Side>
  try {
    for (const s of order) {
      const prefix = `ab${s}${k}`
      const node = await startBuiltNode(join(dir, `${s}${k}`), {
        nodeId: `ab-${s}-${k}`,
        prefix,
        cloudUrl,
        conns: CONNS,
        env: ENVS[s],
        nodeArgs: ARGS[s],
        broker: JSON.parse(env[`FOGLINE_AB_${s}_BROKER`] ?? '{}') as Record<string, unknown>,
        extra: JSON.parse(env[`FOGLINE_AB_${s}_CONFIG`] ?? '{}') as Record<string, unknown>,
        root: env[`FOGLINE_AB_${s}_ROOT`],
      })
      const pub = runTsChild(join(ROOT, 'bench/lib/sensors.ts'), [
        node.host,
        String(node.port),
        prefix,
        String(CONNS),
        String(RATE),
        QOS,
        String(SECONDS + 90),
      ])
      onLines(pub.child, () => {})
      sides[s] = { node, pub }
    }
    for (const s of order) await sides[s].pub.waitForLine(/^connected/, 120_000)
    await sleep(3000)
    const a = Object.fromEntries(
      order.map((s) => [s, [sides[s].node.count(), cpuMs(sides[s].node.proc.pid)]]),
    )
    const rss: Record<string, number[]> = { A: [], B: [] }
    const timer = setInterval(() => {
      for (const s of order) rss[s]!.push(rssMiB(sides[s].node.proc.pid))
    }, 500)
    await sleep(SECONDS * 1000)
    clearInterval(timer)
    const out = {} as Record<'A' | 'B', [number, number]>
    for (const s of order) {
      const [c0, cpu0] = a[s] as [{ n: number; t: number }, number]
      const c1 = sides[s].node.count()
      const us = ((cpuMs(sides[s].node.proc.pid) - cpu0) * 1000) / (c1.n - c0.n)
      const rate = ((c1.n - c0.n) * 1000) / (c1.t - c0.t)
      out[s] = [us, median(rss[s]!)]
      console.log(
        `  round ${k + 1} ${s}: ${fmt(rate).padStart(7)}/s  CPU ${us.toFixed(1)} µs/reading  RSS median ${median(rss[s]!).toFixed(0)} MiB`,
      )
    }
    return out
  } finally {
    for (const s of order) {
      await sides[s]?.pub.kill9()
      await sides[s]?.node.proc.stop('SIGTERM')
    }
  }
}

console.log(
  `bench/node-ab — two built nodes at once, ${fmt(CONNS)} connections x ${RATE}/s each, QoS ${QOS}; A ${JSON.stringify(ENVS.A)} node flags ${JSON.stringify(ARGS.A)}; B ${JSON.stringify(ENVS.B)} node flags ${JSON.stringify(ARGS.B)}; A runs ${env['FOGLINE_AB_A_ROOT'] ?? ROOT}, B ${env['FOGLINE_AB_B_ROOT'] ?? ROOT}; ${machine()}. Shared machine: read the ratio B/A within a round.`,
)
using dir = tempDir('fogline-bench-ab-')
const cloud = await startCloud({
  broker: { embedded: { port: 0 } },
  store: { sqlite: join(dir.path, 'cloud.db') },
  http: { port: 0 },
  log: { level: 'silent' },
})
try {
  for (let k = 0; k < ROUNDS; k++) {
    const r = await round(k, cloud.brokerUrl, dir.path)
    console.log(
      `  round ${k + 1} B/A: CPU ${(r.B[0] / r.A[0]).toFixed(2)}x, RSS ${(r.B[1] / r.A[1]).toFixed(2)}x`,
    )
  }
} finally {
  await cloud.stop()
}
process.exit(0)
