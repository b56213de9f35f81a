/**
 * Summarise a V8 .cpuprofile (node --cpu-prof): self time by area (aedes, mqtt-packet, the node's own
 * packages, Node's net/stream internals, GC, idle) and the top functions, as shares of the busy time.
 * Run: node --conditions=source --import tsx bench/lib/profile.ts FILE.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const AREAS: Array<[string, RegExp]> = [
  ['aedes', /node_modules\/aedes\//],
  ['mqtt-packet', /node_modules\/mqtt-packet\//],
  [
    'aedes deps (mqemitter, persistence, fastfall, reusify, …)',
    /node_modules\/(mqemitter|aedes-persistence|fastfall|fastparallel|fastseries|reusify|retimer|uuid|hyperid|qlobber|end-of-stream|bl|process-nextick)/,
  ],
  ['node pipeline', /packages\/pipeline\//],
  ['node broker/ingest/journal', /packages\/(broker|node)\//],
  ['node outbox/uplink', /packages\/(outbox|uplink)\//],
  ['other npm', /node_modules\//],
  ['Node internals (net, streams, timers)', /^node:/],
]

export function summarise(p: Profile, top = 25): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++)
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0))
  let idle = 0
  let total = 0
  const areas = new Map<string, number>()
  const fns = new Map<string, number>()
  for (const [id, us] of self) {
    const n = byId.get(id)!
    const { functionName: f, url, lineNumber } = n.callFrame
    total += us
    if (f === '(idle)') {
      idle += us
      continue
    }
    const area =
      f === '(garbage collector)'
        ? 'GC'
        : f === '(program)'
          ? '(program: native, not attributed)'
          : url === ''
            ? 'native/builtins'
            : (AREAS.find(([, re]) => re.test(url))?.[0] ?? 'other')
    areas.set(area, (areas.get(area) ?? 0) + us)
    const key = `${f || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, '')}:${lineNumber + 1}`
    fns.set(key, (fns.get(key) ?? 0) + us)
  }
  const busy = total - idle
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)} %`
  const lines = [
    `busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`,
    '',
    'self time by area:',
  ]
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1])) lines.push(`  ${pct(us)}  ${a}`)
  lines.push('', `top ${top} functions (self time):`)
  for (const [f, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${f}`)
  return lines.join('\n')
}

if (process.argv[1]?.endsWith('profile.ts')) {
  const [file, top] = process.argv.slice(2)
  console.log(summarise(JSON.parse(readFileSync(file!, 'utf8')) as Profile, Number(top ?? 25)))
}
