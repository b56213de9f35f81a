import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { startNode } from '@fogline/node'
import { encodeBatch, NodeConfig, parseConfig, upTopic } from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'

describe('the cloud broker with node logins (broker.embedded.nodes)', () => {
  it('lets each node in with its own password, only to its own topics; refuses others, and nothing is stored for them', async () => {
    const d = tempDir('fogline-acl-')
    onTestFinished(() => d.remove())
    process.env.FOGLINE_TEST_NODE_B_PW = 'pw-b'
    const cloud = await startCloud({
      broker: {
        embedded: {
          host: '127.0.0.1',
          port: 0,
          nodes: { 'node-a': 'pw-a', 'node-b': 'env:FOGLINE_TEST_NODE_B_PW' },
        },
      },
      store: { sqlite: join(d.path, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())

    // a real node with its credentials: summaries stored and acked, heartbeats seen
    const node = await startNode(
      parseConfig(NodeConfig, {
        nodeId: 'node-a',
        dataDir: join(d.path, 'a'),
        broker: { port: 0 },
        uplink: { urls: [cloud.brokerUrl], username: 'node-a', password: 'pw-a', heartbeat: '200ms' },
        log: { level: 'silent' },
        pipelines: [
          { id: 'p', input: ['sensors/+/+'], stages: [{ type: 'window', kind: 'count', count: 2 }] },
        ],
      }),
    )
    onTestFinished(() => node.stop())
    const sensor = await mqtt.connectAsync(node.brokerUrl)
    onTestFinished(() => sensor.endAsync(true))
    for (let i = 0; i < 6; i++) await sensor.publishAsync('sensors/s1/t', String(i), { qos: 1 })
    await waitFor(async () => (await cloud.store.countRecords({ nodeId: 'node-a' })) === 3, 'node-a stored')
    await waitFor(() => node.stats().backlogRecords === 0, 'node-a acked')
    await waitFor(async () => (await cloud.fleet.get('node-a'))?.online, 'node-a online')

    // node-a's credentials used to write as node-b: the broker drops the connection, nothing is stored
    const rogue = await mqtt.connectAsync(cloud.brokerUrl, {
      username: 'node-a',
      password: 'pw-a',
      reconnectPeriod: 0,
    })
    const closed = new Promise<void>((r) => rogue.once('close', () => r()))
    await rogue.subscribeAsync('fogline/v1/node-a/down/ack') // its own down topic: granted
    // someone else's down topics: SUBACK 0x80, which mqtt.js turns into an error
    await expect(rogue.subscribeAsync('fogline/v1/node-b/down/#')).rejects.toThrow(/Subscribe error/)
    const forged = encodeBatch({
      nodeId: 'node-b',
      stream: 'summary',
      batchId: 'forged',
      sentAt: Date.now(),
      records: [
        {
          seq: 1,
          ts: 1,
          body: {
            pipelineId: 'x',
            sensorId: 'x',
            metric: 'x',
            start: 0,
            end: 1,
            count: 1,
            min: 1,
            max: 1,
            mean: 1,
            sum: 1,
          },
        },
      ],
    })
    rogue.publish(upTopic('node-b', 'summary'), forged, { qos: 0 })
    await closed
    expect(await cloud.store.countRecords({ nodeId: 'node-b' })).toBe(0)
    expect(await cloud.fleet.get('node-b')).toBeNull()

    // a wrong password and no login at all are refused at CONNECT
    for (const opts of [{ username: 'node-b', password: 'nope' }, {}]) {
      const err = await mqtt
        .connectAsync(cloud.brokerUrl, { ...opts, reconnectPeriod: 0, connectTimeout: 3000 })
        .then(
          (c) => {
            c.end(true)
            return null
          },
          (e: Error) => e,
        )
      // a wrong password: CONNACK 4; no login at all: CONNACK 5 (not authorized)
      expect(err?.message).toMatch(/bad user ?name or password|not authori[sz]ed/i)
    }
    // node-b's own password works
    const b = await mqtt.connectAsync(cloud.brokerUrl, {
      username: 'node-b',
      password: 'pw-b',
      reconnectPeriod: 0,
    })
    await b.endAsync()
    expect(cloud.embeddedBroker?.refused()).toEqual({ logins: 2, publishes: 1, subscriptions: 1 })
  })

  it('refuses to start when a node password names a missing environment variable', async () => {
    const d = tempDir('fogline-acl-')
    onTestFinished(() => d.remove())
    delete process.env.FOGLINE_TEST_UNSET_PW
    const err = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0, nodes: { n: 'env:FOGLINE_TEST_UNSET_PW' } } },
      store: { sqlite: join(d.path, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'FOG_CONFIG_INVALID', where: { field: 'broker.embedded.nodes.n' } })
  })
})
