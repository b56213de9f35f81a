import { request } from 'node:https'
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { FoglineError, upTopic } from '@fogline/protocol'
import { makeTestCa, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { mtlsListener, tryConnect } from './helpers.js'

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      let body = ''
      res.on('data', (d) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe("the cloud's embedded broker and API over TLS", () => {
  it('nodes log in by certificate (CN = node id) and write only as themselves; untrusted certs are refused; the API is HTTPS', async () => {
    await using ca = makeTestCa('cloud-ca')
    await using rogueCa = makeTestCa('rogue-ca')
    const server = ca.issue('cloud', { cn: 'cloud', san: ['DNS:localhost', 'IP:127.0.0.1'] })
    const n1 = ca.issue('n1', { cn: 'n1' })
    const rogue = rogueCa.issue('n1', { cn: 'n1' })
    const d = tempDir('fogline-cloud-tls-')
    onTestFinished(() => d.remove())
    const cloud = await startCloud({
      broker: {
        embedded: { listeners: [mtlsListener(server, ca)] },
      },
      store: { sqlite: join(d.path, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0, tls: { cert: server.certPath, key: server.keyPath } },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())
    expect(cloud.brokerUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/)
    expect(cloud.httpUrl).toMatch(/^https:\/\//)
    const res = await httpsGet(`${cloud.httpUrl}/api/health`, ca.cert)
    expect(res.status).toBe(200)

    const tls = { ca: ca.cert, cert: n1.cert, key: n1.key }
    const node = (await tryConnect(cloud.brokerUrl, { clientId: 'n1', ...tls })).client!
    await node.subscribeAsync('fogline/v1/n1/down/#')
    // writing as another node closes the connection [MQTT-3.3.5-2]
    const closed = new Promise<void>((r) => node.once('close', () => r()))
    node.publish(upTopic('n2', 'summary'), Buffer.from('x'), { qos: 0 })
    await closed
    const refused = await tryConnect(cloud.brokerUrl, {
      clientId: 'r',
      ca: ca.cert,
      cert: rogue.cert,
      key: rogue.key,
    })
    expect(refused.client).toBeUndefined()
    await waitFor(() => cloud.embeddedBroker?.refused().logins === 1, 'certificate refusal counted')
    expect(cloud.embeddedBroker?.refused()).toEqual({ logins: 1, publishes: 1, subscriptions: 0 })
  })

  it('refuses to start a non-loopback broker without node logins or certificates, naming the field', async () => {
    const d = tempDir('fogline-cloud-tls-')
    onTestFinished(() => d.remove())
    const err = await startCloud({
      broker: { embedded: { host: '0.0.0.0', port: 0 } },
      store: { sqlite: join(d.path, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FoglineError)
    expect((err as FoglineError).where.field).toBe('broker.embedded.nodes')
  })
})
