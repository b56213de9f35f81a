import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type Cloud, startCloud } from '@fogline/cloud'
import { type FogNode, startNode } from '@fogline/node'
import {
  ALL_SCOPES,
  FoglineError,
  generateDesiredKeyPair,
  NodeConfig,
  parseConfig,
  type TrustedKey,
} from '@fogline/protocol'
import { startSimulators } from '@fogline/simulators'
import { demoFleet } from '../demo-fleet.js'
import { parseDurationFlag, reportError, waitForStop } from '../util.js'

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
    throw new FoglineError(
      'FOG_CONFIG_INVALID',
      `--partition must look like node-b:60-120 (from < to), got "${v}"`,
      { field: '--partition' },
    )
  if (!demoFleet.some((n) => n.nodeId === m[1]))
    throw new FoglineError(
      'FOG_CONFIG_INVALID',
      `--partition names unknown node "${m[1]}" (demo nodes: ${demoFleet.map((n) => n.nodeId).join(', ')})`,
      { field: '--partition' },
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

export async function run(argv: string[]): Promise<number> {
  const stoppers: Array<() => Promise<unknown>> = []
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        partition: { type: 'string', multiple: true },
        'http-port': { type: 'string', default: '8080' },
        data: { type: 'string', default: '.fogline/demo' },
        keep: { type: 'boolean', default: false },
        'status-every': { type: 'string', default: '5' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    const duration = parseDurationFlag(values.duration)
    const partitions = (values.partition ?? []).map(parsePartition)
    const httpPort = Number(values['http-port'])
    if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535)
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `--http-port must be 0-65535, got "${values['http-port']}"`,
        { field: '--http-port' },
      )
    const dataDir = resolve(values.data)
    if (!values.keep) rmSync(dataDir, { recursive: true, force: true })
    // a demo operator key: fogline push --key signs with it here, the cloud and the nodes trust it
    mkdirSync(dataDir, { recursive: true })
    const keys = generateDesiredKeyPair()
    const keyFile = join(dataDir, 'fogline-operator.key.pem')
    writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 })
    const operatorKeys: TrustedKey[] = [
      { publicKey: keys.publicKeyRaw, scopes: [...ALL_SCOPES], notAfter: Date.now() + 30 * 86_400_000 },
    ]

    const nodes = new Map<string, FogNode>()
    const cloud = await startCloudOnPort(dataDir, httpPort, nodes, operatorKeys)
    stoppers.unshift(() => cloud.stop())
    const sims: Array<Awaited<ReturnType<typeof startSimulators>>> = []
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
    process.stdout.write(`cloud: nodes uplink to ${cloud.brokerUrl}\n`)
    process.stdout.write(`dashboard: ${cloud.httpUrl}/\n`)
    // every API route needs a token: the demo makes an admin one (a --keep run replaces the last one)
    await cloud.tokens.revoke('demo-admin')
    const admin = await cloud.tokens.create({ name: 'demo-admin', role: 'admin' })
    process.stdout.write(
      `admin token (sign in to the dashboard with it; FOGLINE_TOKEN for fogline status/push/audit):\n  ${admin.token}\n` +
        `operator key (fogline push --key): ${keyFile}\n`,
    )

    const t0 = Date.now()
    const timers: NodeJS.Timeout[] = []
    for (const p of partitions) {
      const n = nodes.get(p.nodeId)!
      timers.push(
        setTimeout(() => {
          process.stdout.write(`partition: ${p.nodeId} uplink cut (t=${p.from}s)\n`)
          n.uplink.pause()
        }, p.from * 1000),
        setTimeout(() => {
          process.stdout.write(`partition: ${p.nodeId} uplink restored (t=${p.to}s)\n`)
          n.uplink.resume()
        }, p.to * 1000),
      )
    }
    const statusLine = async () => {
      const t = ((Date.now() - t0) / 1000).toFixed(0).padStart(4)
      const parts = [...nodes.values()].map((n) => {
        const s = n.stats()
        return `${n.nodeId} in=${s.readingsIn} sum=${s.outputs.summary ?? 0} ev=${s.outputs.event ?? 0} backlog=${s.backlogRecords} sent=${s.sent} acked=${s.acked}${s.connected ? '' : ' OFFLINE'}`
      })
      const stored = await cloud.store.countRecords({ stream: 'summary' })
      process.stdout.write(`[t=${t}s] ${parts.join(' | ')} | cloud stored=${stored}\n`)
    }
    const every = Number(values['status-every']) * 1000
    if (every > 0) timers.push(setInterval(() => void statusLine(), every))

    const why = await waitForStop(duration)
    for (const t of timers) clearTimeout(t)
    process.stdout.write(`stopping (${why}): sensors off, waiting for the nodes to drain...\n`)
    for (const s of sims) await s.stop()
    for (const n of nodes.values()) n.uplink.resume()
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && [...nodes.values()].some((n) => n.stats().backlogRecords > 0))
      await new Promise((r) => setTimeout(r, 200))
    for (const n of nodes.values()) {
      const s = n.stats()
      const stored = await cloud.store.countRecords({ nodeId: n.nodeId, stream: 'summary' })
      const events = await cloud.store.countRecords({ nodeId: n.nodeId, stream: 'event' })
      process.stdout.write(
        `${n.nodeId}: readings=${s.readingsIn} summaries made=${s.outputs.summary ?? 0} stored in cloud=${stored} backlog=${s.backlogRecords} events made=${s.outputs.event ?? 0} stored=${events} malformed=${s.malformed}\n`,
      )
    }
    process.stdout.write(`the dashboard was at ${cloud.httpUrl}/\n`)
    for (const stop of stoppers.splice(0)) await stop()
    return 0
  } catch (err) {
    for (const stop of stoppers.splice(0)) await stop().catch(() => {})
    return reportError(err)
  }
}
