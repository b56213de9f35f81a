/** bench/node-ingest, part 3: Node-RED 4 on the same work (Mosquitto → mqtt in → json → function). */
import { fmt, late, median, mib, rssMiB, sleep, spawnPlain, track } from '../lib/proc.js'
import { ensureNodeRed, writeNodeRedFiles } from '../node-red/flow.js'
import type { MemResult } from './memory.js'
import { env, loadRun, MOSQUITTO, PACED, ROUNDS, type Run, ratio, row } from './shared.js'

// ---------------------------------------------------------------------------------------- 3. Node-RED
export async function nodeRedBench(prefix: string, dir: string, mem: MemResult, mosq: number | undefined) {
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
