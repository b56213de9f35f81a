/**
 * The built fog node CLI (`packages/cli/dist/bin.js node`) as a plain Node child with a given environment
 * (e.g. the gateway unit's NODE_OPTIONS) and node flags (the unit's ExecStart ones), factory-line pipeline, uplink to `cloudUrl`, broker on port 0 with
 * room for `conns` sensors; its `in=` status lines counted.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { factoryLinePipeline } from './pipeline.js'
import { type Plain, ROOT, type Sample, spawnPlain, track } from './proc.js'

export interface BuiltNode {
  proc: Plain
  host: string
  port: number
  /** readings the node took so far, from its status lines */
  count: () => Sample
}

export async function startBuiltNode(
  dir: string,
  o: {
    nodeId: string
    prefix: string
    cloudUrl: string
    conns: number
    env: Record<string, string>
    /** merged into the node's broker config (e.g. { fastPath: false }) */
    broker?: Record<string, unknown>
    /** other top-level config sections (e.g. { ingest: { journal: false } }) */
    extra?: Record<string, unknown>
    /** another checkout whose built CLI to run (comparing two builds); default: this one */
    root?: string | undefined
    /** node's own flags before the script (e.g. the unit's ExecStart flags, bench/lib/unit.ts unitNodeArgs) */
    nodeArgs?: string[]
  },
): Promise<BuiltNode> {
  mkdirSync(dir, { recursive: true })
  const cfg = join(dir, 'node.yaml')
  const config = {
    nodeId: o.nodeId,
    dataDir: join(dir, 'data'),
    // room for two loads: the next run's sensors may connect while the node still closes the last run's (a
    // cap of conns + 100 refused a whole second run at 3,000 connections: 0 readings counted)
    broker: { host: '127.0.0.1', port: 0, limits: { maxConnections: 2 * o.conns + 100 }, ...o.broker },
    uplink: { urls: [o.cloudUrl] },
    log: { level: 'warn' },
    pipelines: [factoryLinePipeline('temperature', o.prefix)],
    ...o.extra,
  }
  // JSON is YAML: the config loader reads it as any config file
  writeFileSync(cfg, JSON.stringify(config))
  const root = o.root ?? ROOT
  const cli = join(root, 'packages/cli/dist/bin.js')
  const proc = spawnPlain(
    [...(o.nodeArgs ?? []), cli, 'node', '--config', cfg, '--status-every', '0.25'],
    root,
    {
      ...process.env,
      NODE_OPTIONS: '',
      ...o.env,
    },
  )
  const count = track(proc.child, /^\[[^\]]+\] in=(\d+) /)
  const m = await proc.line(/sensors publish to mqtt:\/\/([\d.]+):(\d+)/)
  return { proc, host: m[1]!, port: Number(m[2]), count }
}
