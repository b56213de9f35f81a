import { join } from 'node:path'
import { type FogNode, startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { api, bad, dir, push, testCloud, until } from './helpers.js'

const windowed = (id: string) => ({
  id,
  input: ['sensors/+/+'],
  stages: [{ type: 'window', kind: 'tumbling', size: '200ms', aggregates: ['count', 'mean'] }],
})

async function realNode(
  brokerUrl: string,
  publicKey: string,
  nodeId: string,
  dataDir = join(dir(), 'n'),
  healthWindowMs = 600,
  /** false where a test cuts the link on purpose during the window (a lost link otherwise fails it) */
  healthRequiresConnection = true,
) {
  const config = parseConfig(NodeConfig, {
    nodeId,
    group: 'line',
    dataDir,
    broker: { port: 0 },
    uplink: { urls: [brokerUrl], heartbeat: '200ms' },
    pipelines: [windowed('from-file')],
    desiredKeys: [{ publicKey, scopes: ['pipelines', 'models', 'uplink'], notAfter: Date.UTC(2100, 0, 1) }],
    log: { level: 'silent' },
  }) as NodeConfig
  const node = await startNode(config, {
    desired: { healthWindowMs, healthCheckMs: 50, minReadings: 5, healthRequiresConnection },
  })
  const agent = node.desired!
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    agent.close()
    await node.stop()
  }
  onTestFinished(stop)
  // a sensor publishing every 10 ms
  const sensor = await mqtt.connectAsync(node.brokerUrl, { reconnectPeriod: 0 })
  let i = 0
  const timer = setInterval(() => sensor.publish('sensors/s1/temp', JSON.stringify({ value: i++ % 10 })), 10)
  onTestFinished(async () => {
    clearInterval(timer)
    await sensor.endAsync(true)
  })
  return { node, agent, config, stop }
}

const pipelineIds = (n: FogNode) => Object.keys(n.engine.counters()).sort()

describe('desired state end to end: startCloud → startNode (real engine, outbox, uplink)', () => {
  it('applies a pushed version, rolls back a failing one, and the cloud sees both reports', async () => {
    const cloud = await testCloud()
    const { node, agent } = await realNode(cloud.brokerUrl, cloud.publicKeyPem, 'edge-1')
    await until(() => node.uplink.stats().connected, 'node connected')

    await push(cloud, {
      target: { node: 'edge-1' },
      pipelines: [windowed('v1')],
    })
    await until(
      () => agent.status().health === 'ok' && agent.appliedVersion() === 1,
      'version 1 applied and healthy',
    )
    expect(pipelineIds(node)).toEqual(['v1'])

    await push(cloud, {
      target: { group: 'line' },
      pipelines: [bad('broken')],
    })
    await until(
      () => agent.status().highestVersion === 2 && agent.appliedVersion() === 1,
      'version 2 rolled back',
    )
    expect(pipelineIds(node)).toEqual(['v1'])

    const view = await until(async () => {
      const r = await api(cloud.httpUrl, 'GET', '/api/desired?node=edge-1')
      return r.body.reports.some(
        (x: { version: number; status: string }) => x.version === 2 && x.status === 'rolled-back',
      )
        ? r.body
        : null
    }, 'rolled-back report in the cloud')
    expect(view.reports.find((x: { version: number }) => x.version === 2)).toMatchObject({
      code: 'FOG_HEALTH_FAILED',
    })
    expect(view.reports.find((x: { version: number }) => x.version === 1)).toMatchObject({
      status: 'applied',
      health: 'ok',
    })
    // the heartbeat's configVersion follows the running version
    await until(
      async () => (await api(cloud.httpUrl, 'GET', '/api/nodes/edge-1')).body.configVersion === 1,
      'fleet shows version 1',
    )
  })

  it('a restarted node comes back on its applied version, not its config file', async () => {
    const cloud = await testCloud()
    const dataDir = join(dir(), 'n')
    const first = await realNode(cloud.brokerUrl, cloud.publicKeyPem, 'edge-2', dataDir)
    await until(() => first.node.uplink.stats().connected, 'node connected')
    await push(cloud, {
      target: { node: 'edge-2' },
      pipelines: [windowed('pushed')],
    })
    await until(() => first.agent.status().health === 'ok', 'version 1 healthy')
    await first.stop()
    const second = await realNode(cloud.brokerUrl, cloud.publicKeyPem, 'edge-2', dataDir)
    expect(second.agent.appliedVersion()).toBe(1)
    expect(pipelineIds(second.node)).toEqual(['pushed'])
  })

  // reported state has one route, the outbox's durable `reported` stream: what the agent reports while the
  // link is cut is not lost, neither to a reconnect nor to a restart
  const reportOf = async (httpUrl: string, nodeId: string, version: number) =>
    (await api(httpUrl, 'GET', `/api/desired?node=${nodeId}`)).body.reports.find(
      (x: { version: number }) => x.version === version,
    ) as { status: string; health: string | null } | undefined

  /** push version 1, cut the link while its health window runs, and let the agent report "ok" offline */
  async function reportWhileCut(nodeId: string, dataDir: string) {
    const cloud = await testCloud()
    const n = await realNode(cloud.brokerUrl, cloud.publicKeyPem, nodeId, dataDir, 1500, false)
    await until(() => n.node.uplink.stats().connected, 'node connected')
    await push(cloud, {
      target: { node: nodeId },
      pipelines: [windowed('v1')],
    })
    await until(() => n.agent.appliedVersion() === 1, 'version 1 applied')
    n.node.uplink.pause()
    expect(n.agent.status().health).toBe('pending')
    await until(() => n.agent.status().health === 'ok', 'version 1 healthy while offline')
    expect(n.node.stats().connected).toBe(false)
    expect((await reportOf(cloud.httpUrl, nodeId, 1))?.health ?? null).not.toBe('ok')
    return { cloud, ...n }
  }

  it('a report made while the link is cut reaches the cloud after the reconnect', async () => {
    const { cloud, node } = await reportWhileCut('edge-3', join(dir(), 'n'))
    node.uplink.resume()
    const r = await until(async () => {
      const x = await reportOf(cloud.httpUrl, 'edge-3', 1)
      return x?.health === 'ok' ? x : null
    }, 'the offline report in the cloud')
    expect(r).toMatchObject({ status: 'applied', health: 'ok' })
    await until(() => node.stats().backlogRecords === 0, 'reported stream acked and emptied')
  })

  it('a report made while the link is cut reaches the cloud after a node restart', async () => {
    const dataDir = join(dir(), 'n')
    const { cloud, stop } = await reportWhileCut('edge-4', dataDir)
    await stop()
    // the restarted node makes no new report (version 1 is already healthy): what arrives is the stored one
    const second = await realNode(cloud.brokerUrl, cloud.publicKeyPem, 'edge-4', dataDir)
    expect(second.agent.status().health).toBe('ok')
    const r = await until(async () => {
      const x = await reportOf(cloud.httpUrl, 'edge-4', 1)
      return x?.health === 'ok' ? x : null
    }, 'the stored report in the cloud after the restart')
    expect(r).toMatchObject({ status: 'applied', health: 'ok' })
  })
})
