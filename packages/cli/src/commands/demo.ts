import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Cloud, startCloud } from '@fogline/cloud'
import { type FogNode, startNode } from '@fogline/node'
import {
  ALL_SCOPES,
  type Clock,
  FoglineError,
  generateDesiredKeyPair,
  NodeConfig,
  parseConfig,
  sleep,
  systemClock,
  type TrustedKey,
} from '@fogline/protocol'
import { startSimulators } from '@fogline/simulators'
import { defineCommand, type Flags } from '../args.js'
import { demoFleet } from '../demo-fleet.js'
import { badFlag, parseDurationFlag, reportError, waitForStop } from '../util.js'

export const help = `Usage: fogline demo [options]

Run the whole chain on this machine: a cloud aggregator (embedded broker,
SQLite, HTTP API + dashboard), three fog nodes with different pipelines, and
simulated sensors. Prints a status line every few seconds; Ctrl-C stops cleanly.

Options:
  --duration S          stop by itself after S seconds
  --partition N:A-B     cut node N's uplink from second A to second B, e.g. node-b:60-120
                        (watch its backlog grow, then drain; repeatable)
  --http-port P         dashboard/API port (default 8080; a free port if taken)
  --data DIR            where the demo keeps its files (default ./.fogline/demo, wiped at start)
  --keep                do not wipe DIR at start
  --status-every S      seconds between status lines (default 5)
  -h, --help            this text
`

interface Partition {
  nodeId: string
  from: number
  to: number
}

function parsePartition(v: string): Partition {
  const m = /^([A-Za-z0-9_.:-]+):(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v)
  if (!m || Number(m[3]) <= Number(m[2]))
    throw badFlag('--partition', `--partition must look like node-b:60-120 (from < to), got "${v}"`)
  if (!demoFleet.some((n) => n.nodeId === m[1]))
    throw badFlag(
      '--partition',
      `--partition names unknown node "${m[1]}" (demo nodes: ${demoFleet.map((n) => n.nodeId).join(', ')})`,
    )
  return { nodeId: m[1]!, from: Number(m[2]), to: Number(m[3]) }
}

async function startCloudOnPort(
  dataDir: string,
  port: number,
  nodes: Map<string, FogNode>,
  operatorKeys: TrustedKey[],
): Promise<Cloud> {
  const demo = {
    setLink(nodeId: string, up: boolean) {
      const n = nodes.get(nodeId)
      if (!n) throw new FoglineError('FOG_API_NOT_FOUND', `no demo node "${nodeId}"`)
      if (up) n.uplink.resume()
      else n.uplink.pause()
    },
  }
  const config = (p: number) => ({
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    store: { sqlite: join(dataDir, 'cloud.db') },
    operatorKeys,
    http: { host: '127.0.0.1', port: p },
    log: { level: 'warn' as const },
  })
  try {
    return await startCloud(config(port), { demo })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw err
    process.stdout.write(`port ${port} is taken; the dashboard gets a free port instead\n`)
    return startCloud(config(0), { demo })
  }
}

const options = {
  duration: { type: 'string' },
  partition: { type: 'string', multiple: true },
  'http-port': { type: 'string', default: '8080' },
  data: { type: 'string', default: '.fogline/demo' },
  keep: { type: 'boolean', default: false },
  'status-every': { type: 'string', default: '5' },
} as const

/** How long the demo waits at the end for the nodes to drain their backlog, and how often it looks. */
const DRAIN_MS = 15_000
const DRAIN_POLL_MS = 200

type Sims = Awaited<ReturnType<typeof startSimulators>>

function demoSettings(flags: Flags<typeof options>) {
  const httpPort = Number(flags['http-port'])
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535)
    throw badFlag('--http-port', `--http-port must be 0-65535, got "${flags['http-port']}"`)
  return {
    duration: parseDurationFlag(flags.duration),
    partitions: (flags.partition ?? []).map(parsePartition),
    httpPort,
    dataDir: resolve(flags.data),
    statusEveryMs: Number(flags['status-every']) * 1000,
  }
}

/** The demo's fog nodes, each with its simulated sensors; stoppers are added first-to-stop first. */
async function startFleet(
  cloud: Cloud,
  dataDir: string,
  operatorKeys: TrustedKey[],
  nodes: Map<string, FogNode>,
  stoppers: Array<() => Promise<unknown>>,
): Promise<Sims[]> {
  const sims: Sims[] = []
  for (const spec of demoFleet) {
    const config = parseConfig(NodeConfig, {
      nodeId: spec.nodeId,
      group: spec.group,
      dataDir: join(dataDir, spec.nodeId),
      broker: { host: '127.0.0.1', port: 0 },
      uplink: { urls: [cloud.brokerUrl], heartbeat: '2s', ackTimeout: '3s' },
      checkpoint: { interval: '2s' },
      pipelines: spec.pipelines,
      desiredKeys: operatorKeys,
      log: { level: 'warn' },
    })
    const node = await startNode(config)
    nodes.set(spec.nodeId, node)
    stoppers.unshift(() => node.stop())
    const sim = await startSimulators({
      url: node.brokerUrl,
      seed: nodes.size,
      sensors: spec.sensors as never,
    })
    sims.push(sim)
    stoppers.unshift(() => sim.stop())
    process.stdout.write(`${spec.nodeId} (${spec.title}): sensors publish to ${node.brokerUrl}\n`)
  }
  return sims
}

/** Cut and restore uplinks at the --partition times; returns the timers to clear. */
function schedulePartitions(nodes: Map<string, FogNode>, partitions: Partition[], clock: Clock): unknown[] {
  const timers: unknown[] = []
  for (const p of partitions) {
    const n = nodes.get(p.nodeId)!
    timers.push(
      clock.setTimeout(() => {
        process.stdout.write(`partition: ${p.nodeId} uplink cut (t=${p.from}s)\n`)
        n.uplink.pause()
      }, p.from * 1000),
      clock.setTimeout(() => {
        process.stdout.write(`partition: ${p.nodeId} uplink restored (t=${p.to}s)\n`)
        n.uplink.resume()
      }, p.to * 1000),
    )
  }
  return timers
}

async function printStatus(
  cloud: Cloud,
  nodes: Map<string, FogNode>,
  t0: number,
  clock: Clock,
): Promise<void> {
  const t = ((clock.now() - t0) / 1000).toFixed(0).padStart(4)
  const parts = [...nodes.values()].map((n) => {
    const s = n.stats()
    return `${n.nodeId} in=${s.readingsIn} sum=${s.outputs.summary ?? 0} ev=${s.outputs.event ?? 0} backlog=${s.backlogRecords} sent=${s.sent} acked=${s.acked}${s.connected ? '' : ' OFFLINE'}`
  })
  const stored = await cloud.store.countRecords({ stream: 'summary' })
  process.stdout.write(`[t=${t}s] ${parts.join(' | ')} | cloud stored=${stored}\n`)
}

/** Sensors off, uplinks on, wait (bounded) for every backlog to drain, then what each node made and the cloud stored. */
async function drainAndReport(
  cloud: Cloud,
  nodes: Map<string, FogNode>,
  sims: Sims[],
  clock: Clock,
): Promise<void> {
  for (const s of sims) await s.stop()
  for (const n of nodes.values()) n.uplink.resume()
  const counts = async (n: FogNode) => ({
    s: n.stats(),
    stored: await cloud.store.countRecords({ nodeId: n.nodeId, stream: 'summary' }),
    events: await cloud.store.countRecords({ nodeId: n.nodeId, stream: 'event' }),
  })
  // drained: no backlog and the cloud holds what each node made. An empty backlog alone was not enough: a
  // closed window's summaries count as made at once but may wait to be coalesced with the next checkpoint
  // before they reach the outbox (packages/node/src/writer.ts; CI once printed made=36 stored=31 that way);
  // a record really lost still shows, after DRAIN_MS
  const drained = async () => {
    for (const n of nodes.values()) {
      const { s, stored, events } = await counts(n)
      if (s.backlogRecords > 0 || stored !== (s.outputs.summary ?? 0) || events !== (s.outputs.event ?? 0))
        return false
    }
    return true
  }
  const deadline = clock.now() + DRAIN_MS
  while (clock.now() < deadline && !(await drained())) await sleep(clock, DRAIN_POLL_MS)
  for (const n of nodes.values()) {
    const { s, stored, events } = await counts(n)
    process.stdout.write(
      `${n.nodeId}: readings=${s.readingsIn} summaries made=${s.outputs.summary ?? 0} stored in cloud=${stored} backlog=${s.backlogRecords} events made=${s.outputs.event ?? 0} stored=${events} malformed=${s.malformed}\n`,
    )
  }
}

export const run = defineCommand(help, options, async (flags) => {
  const clock = systemClock
  const settings = demoSettings(flags)
  const stoppers: Array<() => Promise<unknown>> = []
  try {
    const { dataDir } = settings
    if (!flags.keep) rmSync(dataDir, { recursive: true, force: true })
    // a demo operator key: fogline push --key signs with it here, the cloud and the nodes trust it
    mkdirSync(dataDir, { recursive: true })
    const keys = generateDesiredKeyPair()
    const keyFile = join(dataDir, 'fogline-operator.key.pem')
    writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 })
    const operatorKeys: TrustedKey[] = [
      { publicKey: keys.publicKeyRaw, scopes: [...ALL_SCOPES], notAfter: clock.now() + 30 * 86_400_000 },
    ]
    const nodes = new Map<string, FogNode>()
    const cloud = await startCloudOnPort(dataDir, settings.httpPort, nodes, operatorKeys)
    stoppers.unshift(() => cloud.stop())
    const sims = await startFleet(cloud, dataDir, operatorKeys, nodes, stoppers)
    process.stdout.write(`cloud: nodes uplink to ${cloud.brokerUrl}\n`)
    process.stdout.write(`dashboard: ${cloud.httpUrl}/\n`)
    // every API route needs a token: the demo makes an admin one (a --keep run replaces the last one)
    await cloud.tokens.revoke('demo-admin')
    const admin = await cloud.tokens.create({ name: 'demo-admin', role: 'admin' })
    process.stdout.write(
      `admin token (sign in to the dashboard with it; FOGLINE_TOKEN for fogline status/push/audit):\n  ${admin.token}\n` +
        `operator key (fogline push --key): ${keyFile}\n`,
    )
    const t0 = clock.now()
    const timers = schedulePartitions(nodes, settings.partitions, clock)
    const status =
      settings.statusEveryMs > 0
        ? clock.setInterval(() => void printStatus(cloud, nodes, t0, clock), settings.statusEveryMs)
        : undefined
    const why = await waitForStop(settings.duration, clock)
    for (const t of timers) clock.clearTimeout(t)
    if (status !== undefined) clock.clearInterval(status)
    process.stdout.write(`stopping (${why}): sensors off, waiting for the nodes to drain...\n`)
    await drainAndReport(cloud, nodes, sims, clock)
    process.stdout.write(`the dashboard was at ${cloud.httpUrl}/\n`)
    for (const stop of stoppers.splice(0)) await stop()
    return 0
  } catch (err) {
    for (const stop of stoppers.splice(0)) await stop().catch(() => {})
    return reportError(err)
  }
})
