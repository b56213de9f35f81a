import { join } from 'node:path'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { api, dir, push, testCloud, trusted, until } from './helpers.js'

describe('anomaly models sent from the cloud (desired state `models`)', () => {
  it('a node scores with the model it was pushed, keeps it across a restart, and the events reach the cloud store', async () => {
    const cloud = await testCloud()
    const dataDir = join(dir(), 'edge-m')
    const config = parseConfig(NodeConfig, {
      nodeId: 'edge-m',
      group: 'line',
      dataDir,
      broker: { port: 0 },
      uplink: { urls: [cloud.brokerUrl], heartbeat: '200ms', linger: '2ms' },
      pipelines: [
        {
          id: 'vib',
          input: ['sensors/+/vibration'],
          stages: [{ type: 'anomaly', model: 'vibration', name: 'vibration-odd' }],
          output: [{ stream: 'event', priority: 0 }],
        },
      ],
      desiredKeys: [trusted(cloud.operator)],
      log: { level: 'silent' },
    }) as NodeConfig
    const start = async () => {
      const node = await startNode(config, { desired: { healthWindowMs: 300, healthCheckMs: 50 } })
      onTestFinished(() => node.stop())
      await until(() => node.uplink.stats().connected, 'node connected')
      const sensor = await mqtt.connectAsync(node.brokerUrl, { reconnectPeriod: 0 })
      onTestFinished(() => sensor.endAsync(true))
      const send = (v: number) => sensor.publishAsync('sensors/m1/vibration', String(v), { qos: 1 })
      return { node, send }
    }

    const first = await start()
    await first.send(40) // no model yet: nothing to score against
    await until(() => first.node.stats().readingsIn === 1, 'reading in')
    expect(first.node.stats().outputs.event ?? 0).toBe(0)

    const pushed = await push(cloud, {
      target: { node: 'edge-m' },
      models: { vibration: { kind: 'gaussian', mean: 2, std: 0.5, k: 6 } },
    })
    expect(pushed.status).toBeLessThan(300)
    await until(() => first.node.desired?.appliedVersion() === 1, 'models applied')
    expect(first.node.engine.models.get('vibration')).toMatchObject({ kind: 'gaussian', mean: 2 })
    await first.send(2.1) // normal
    await first.send(9) // z = 14
    const stored = await until(async () => {
      const ev = await cloud.store.queryEvents({ nodeId: 'edge-m' })
      return ev.length === 1 ? ev : null
    }, 'the anomaly event in the cloud store')
    expect(stored[0]).toMatchObject({ sensorId: 'm1', kind: 'anomaly', name: 'vibration-odd', value: 9 })
    expect(stored[0]!.detail).toMatchObject({ model: 'vibration', detector: 'gaussian', expected: 2 })

    // a restarted node holds the model before the cloud says anything
    await first.node.stop()
    const second = await start()
    expect(second.node.engine.models.get('vibration')).toMatchObject({ kind: 'gaussian', k: 6 })
    await second.send(2) // ends the episode restored from the checkpoint, if any
    await second.send(-5) // z = 14
    await until(
      async () => (await cloud.store.queryEvents({ nodeId: 'edge-m' })).length === 2,
      'second event',
    )

    // a bad model is refused by the cloud with the field named (the node's own schema, checked before
    // signing), so no version is made and the node keeps the one it had
    const refused = await push(cloud, {
      target: { node: 'edge-m' },
      models: { vibration: { kind: 'gaussian', mean: 2, std: -1 } },
    })
    expect(refused.status).toBe(400)
    expect(refused.body).toMatchObject({
      error: { code: 'FOG_DESIRED_INVALID', where: { field: 'models.vibration.std' } },
    })
    expect(second.node.engine.models.get('vibration')).toMatchObject({ std: 0.5 })

    // uplink tunables in the same kind of document apply at run time; the endpoints stay
    await push(cloud, {
      target: { node: 'edge-m' },
      uplink: { drainRate: 50, maxInFlight: 3, heartbeat: '1s' },
    })
    await until(() => second.node.desired?.appliedVersion() === 2, 'uplink settings applied')
    expect(second.node.uplink.settings()).toMatchObject({
      drainRate: 50,
      maxInFlight: 3,
      heartbeat: 1000,
      urls: [cloud.brokerUrl],
    })
    const applied = await until(async () => {
      const r = await api(cloud.httpUrl, 'GET', '/api/desired?node=edge-m')
      return r.body.reports.find((x: { version: number; status: string }) => x.version === 2)
    }, 'report for version 2')
    expect(applied.status).toMatch(/applied|healthy/)
    expect(JSON.stringify(applied)).not.toMatch(/ignored|not applied/)
  }, 30_000)
})
