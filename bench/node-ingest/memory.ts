/** bench/node-ingest, part 2: memory (VmRSS) of the fog node CLI child, bare Node and bare aedes. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  closedPort,
  fmt,
  late,
  median,
  mib,
  type Plain,
  ROOT,
  rssMiB,
  type Sample,
  sleep,
  spawnPlain,
  track,
} from '../lib/proc.js'
import {
  AEDES_CHILD,
  env,
  loadRun,
  nodeConfigInput,
  PACED,
  RSS_SECONDS,
  type Run,
  ratio,
  row,
} from './shared.js'

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

export interface FogChild {
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

export interface MemResult {
  /** CPU µs per reading at the paced rate */
  fogCpu10k: number
  fogIdle: number
  fog10k: number
  fogPeak: number
  fogChild: FogChild
}

export async function memoryBench(prefix: string, dir: string): Promise<MemResult> {
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
