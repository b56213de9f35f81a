import { Writable } from 'node:stream'
import { makeTestCa, tempDir, waitFor } from '@fogline/testkit'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { testCloud, testNode, windowPipeline } from '../fleet.js'
import { mtlsListener, tryConnect } from './helpers.js'

/** A pino logger writing JSON lines into an array (to grep). */
function captured(level: string) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  return { lines, logger: pino({ level, base: null }, stream) }
}

async function pki() {
  const ca = makeTestCa('fog-ca')
  onTestFinished(() => ca.dispose())
  return {
    ca,
    cloud: ca.issue('cloud', { cn: 'cloud', san: ['DNS:localhost', 'IP:127.0.0.1'] }),
    gateway: ca.issue('gateway', { cn: 'gw-1', san: ['IP:127.0.0.1'] }),
    node: ca.issue('node', { cn: 'gw-1' }),
    sensor: ca.issue('sensor', { cn: 's1' }),
  }
}

/** Must show 2: a node and a cloud over mqtts with client certificates (configs/secure/ is the example). */
describe('a node and a cloud over mqtts with client certificates', () => {
  it('a sensor (cert CN s1) → fog broker (mqtts) → uplink (mqtts, node cert CN = node id) → cloud store', async () => {
    const d = tempDir('fogline-tls-')
    onTestFinished(() => d.remove())
    const p = await pki()
    const cloud = await testCloud(d.path, {
      config: {
        broker: {
          embedded: { listeners: [mtlsListener(p.cloud, p.ca)] },
        },
      },
    })
    const acl = d.file('acl')
    await import('node:fs').then((fs) => fs.writeFileSync(acl, 'pattern write sensors/%u/#\n'))
    const node = await testNode(d.path, 'gw-1', cloud.brokerUrl, {
      broker: {
        listeners: [mtlsListener(p.gateway, p.ca)],
        aclFile: acl,
      },
      uplink: { tls: { ca: p.ca.certPath, cert: p.node.certPath, key: p.node.keyPath }, linger: '5ms' },
      pipelines: [windowPipeline('200ms')],
    })
    expect(node.brokerUrl).toMatch(/^mqtts:/)
    await waitFor(() => node.stats().connected, 'uplink connected over mqtts')
    const s = (await tryConnect(node.brokerUrl, { ca: p.ca.cert, cert: p.sensor.cert, key: p.sensor.key }))
      .client!
    for (let i = 0; i < 10; i++)
      await s.publishAsync('sensors/s1/temp', JSON.stringify({ value: i }), { qos: 1 })
    // another sensor's topic: dropped by the ACL, never summarized
    await s.publishAsync('sensors/s2/temp', JSON.stringify({ value: 99 }), { qos: 1 })
    await waitFor(async () => {
      const rows = await cloud.store.querySummaries({ nodeId: 'gw-1' })
      return rows.reduce((a, r) => a + r.count, 0) === 10
    }, 'ten readings summarized in the cloud')
    expect(await cloud.store.querySummaries({ nodeId: 'gw-1', sensorId: 's2' })).toEqual([])
    expect(node.broker.counters().denied.publish).toBe(1)
  })

  it('uplink.tls.insecure is warned at start; without it a cloud certificate from another CA is refused', async () => {
    const d = tempDir('fogline-tls-')
    onTestFinished(() => d.remove())
    const p = await pki()
    const other = makeTestCa('other-ca')
    onTestFinished(() => other.dispose())
    const cloud = await testCloud(d.path, {
      config: {
        broker: {
          embedded: {
            nodes: { 'gw-2': 'pw' },
            listeners: [
              {
                type: 'mqtts',
                host: '127.0.0.1',
                port: 0,
                tls: { cert: p.cloud.certPath, key: p.cloud.keyPath },
              },
            ],
          },
        },
      },
    })
    const verifying = await testNode(d.path, 'gw-2', cloud.brokerUrl, {
      uplink: { username: 'gw-2', password: 'pw', tls: { ca: other.certPath } },
      pipelines: [windowPipeline('1s')],
    })
    await waitFor(
      () => verifying.stats().lastError?.code === 'FOG_UPLINK_UNAVAILABLE',
      'untrusted cloud refused',
    )
    expect(verifying.stats().connected).toBe(false)
    await verifying.stop()
    const log = captured('info')
    const insecure = await testNode(
      d.path,
      'gw-2',
      cloud.brokerUrl,
      {
        uplink: { username: 'gw-2', password: 'pw', tls: { insecure: true } },
        pipelines: [windowPipeline('1s')],
      },
      { logger: log.logger },
    )
    await waitFor(() => insecure.stats().connected, 'connected without verification')
    expect(log.lines.some((l) => l.includes('uplink.tls.insecure') && l.includes('"level":40'))).toBe(true)
  })
})
