import { writeFileSync } from 'node:fs'
import { makeTestCa, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { testCloud, testNode, windowPipeline } from '../fleet.js'
import { PYTHON, run, thirdPartyClients } from '../interop/third-party.js'
import { mtlsListener } from './helpers.js'

/**
 * Must show 3: Mosquitto's mosquitto_pub (C, libmosquitto + OpenSSL) and Eclipse Paho for Python publish into
 * the node over TLS with a client certificate (CN = user name, held to its own topics by the ACL).
 */

async function tlsNode() {
  const d = tempDir('fogline-interop-tls-')
  onTestFinished(() => d.remove())
  const ca = makeTestCa('interop-ca')
  onTestFinished(() => ca.dispose())
  const server = ca.issue('gw', { cn: 'gw', san: ['DNS:localhost', 'IP:127.0.0.1'] })
  writeFileSync(d.file('acl'), 'pattern write sensors/%u/#\n')
  const cloud = await testCloud(d.path)
  const node = await testNode(d.path, 'interop-tls', cloud.brokerUrl, {
    broker: {
      listeners: [mtlsListener(server, ca)],
      aclFile: d.file('acl'),
    },
    pipelines: [windowPipeline('300ms')],
  })
  return { ca, node, port: String(new URL(node.brokerUrl).port) }
}

describe.skipIf(!thirdPartyClients && !process.env.CI)(
  'third-party clients → fog node over TLS with a client certificate (skipped only when mosquitto-clients or python3-paho-mqtt is missing)',
  () => {
    it('mosquitto_pub with --cert/--key: 50 readings in; another sensor topic dropped; a cert from another CA refused', async () => {
      const { ca, node, port } = await tlsNode()
      const dev = ca.issue('mq1', { cn: 'mq1' })
      const base = ['-h', '127.0.0.1', '-p', port, '--cafile', ca.certPath, '-q', '1']
      const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ value: i })).join('\n')
      const ok = await run(
        'mosquitto_pub',
        [...base, '--cert', dev.certPath, '--key', dev.keyPath, '-t', 'sensors/mq1/t', '-l'],
        lines,
      )
      expect(ok.code, ok.out).toBe(0)
      const other = await run('mosquitto_pub', [
        ...base,
        '--cert',
        dev.certPath,
        '--key',
        dev.keyPath,
        '-t',
        'sensors/mq2/t',
        '-m',
        '1',
      ])
      expect(other.code).toBe(0) // acknowledged, then dropped by the ACL
      await using rogueCa = makeTestCa('rogue')
      const rogue = rogueCa.issue('mq1', { cn: 'mq1' })
      const refused = await run('mosquitto_pub', [
        ...base,
        '--cert',
        rogue.certPath,
        '--key',
        rogue.keyPath,
        '-t',
        'sensors/mq1/t',
        '-m',
        '1',
      ])
      expect(refused.code).not.toBe(0)
      await waitFor(() => node.stats().readingsIn === 50, '50 readings in')
      expect(node.broker.counters()).toMatchObject({ denied: { publish: 1 }, refused: { certificate: 1 } })
    })

    it('Paho (Python) with tls_set(certfile, keyfile): QoS 0 and 1 readings in', async () => {
      const { ca, node, port } = await tlsNode()
      const dev = ca.issue('py1', { cn: 'py1' })
      const script = `
import json, paho.mqtt.client as mqtt
c = mqtt.Client(client_id="paho-tls")
c.tls_set(ca_certs="${ca.certPath}", certfile="${dev.certPath}", keyfile="${dev.keyPath}")
c.connect("127.0.0.1", ${port})
c.loop_start()
for i in range(40):
    c.publish("sensors/py1/humidity", json.dumps({"value": i}), qos=i % 2).wait_for_publish()
c.disconnect()
c.loop_stop()
print("sent")
`
      const r = await run(PYTHON, ['-c', script])
      expect(r.out.trim()).toBe('sent')
      await waitFor(() => node.stats().readingsIn === 40, '40 readings in')
    })
  },
)
