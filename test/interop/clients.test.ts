import { join } from 'node:path'
import { startNode } from '@fogline/node'
import { FoglineError, NodeConfig, parseConfig } from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { testCloud, testNode } from '../fleet.js'
import { PYTHON, run, thirdPartyClients } from './third-party.js'

/** Real third-party MQTT clients (./third-party.ts) against the fog node's broker. */
const PASSWORD = 's3cret-pw'

const until = <T>(cond: () => T | Promise<T>, what: string, ms = 15_000) => waitFor(cond, what, ms, 50)

async function setup() {
  const dir = tempDir('fogline-interop-', onTestFinished).path
  const cloud = await testCloud(dir)
  process.env.FOGLINE_TEST_SENSOR_PW = PASSWORD
  const node = await testNode(dir, 'interop', cloud.brokerUrl, {
    broker: { host: '127.0.0.1', port: 0, maxPayload: 1024, users: { sensor: 'env:FOGLINE_TEST_SENSOR_PW' } },
    uplink: { linger: '2ms' },
    pipelines: [
      {
        id: 'p',
        input: ['sensors/+/+'],
        decoder: { type: 'json', value: '$.value' },
        stages: [
          { type: 'window', kind: 'tumbling', size: '300ms', aggregates: ['count', 'min', 'max', 'sum'] },
        ],
      },
    ],
  })
  const port = String(new URL(node.brokerUrl).port)
  const stored = async (sensorId: string) => {
    const rows = await cloud.store.querySummaries({ nodeId: 'interop', sensorId })
    return {
      count: rows.reduce((a, r) => a + r.count, 0),
      sum: rows.reduce((a, r) => a + r.sum, 0),
      min: Math.min(...rows.map((r) => r.min)),
      max: Math.max(...rows.map((r) => r.max)),
    }
  }
  return { node, port, stored }
}

describe.skipIf(!thirdPartyClients && !process.env.CI)(
  'third-party MQTT clients → fog node → cloud (skipped only when mosquitto-clients or python3-paho-mqtt is not installed)',
  () => {
    it('mosquitto_pub: 200 readings at QoS 1 with credentials arrive summarized exactly; wrong or no credentials are refused and counted', async () => {
      const { node, port, stored } = await setup()
      const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ value: i })).join('\n')
      const base = ['-h', '127.0.0.1', '-p', port, '-t', 'sensors/mq1/temperature', '-q', '1']
      const ok = await run('mosquitto_pub', [...base, '-u', 'sensor', '-P', PASSWORD, '-l'], lines)
      expect(ok.code, ok.out).toBe(0)
      const wrong = await run('mosquitto_pub', [...base, '-u', 'sensor', '-P', 'nope', '-m', '1'])
      expect(wrong.code).not.toBe(0)
      expect(wrong.out).toMatch(/not authori[sz]ed|bad user name or password/i)
      const anonymous = await run('mosquitto_pub', [...base, '-m', '1'])
      expect(anonymous.code).not.toBe(0)
      expect(node.stats().authFailures).toBe(2)
      const s = await until(async () => {
        const v = await stored('mq1')
        return v.count === 200 ? v : null
      }, '200 readings in the store')
      expect(s).toEqual({ count: 200, sum: (199 * 200) / 2, min: 0, max: 199 })
      expect(node.stats().readingsIn).toBe(200)
    })

    it('Paho (Python): QoS 0 and 1 readings arrive; a malformed and an oversized message are set aside with reasons', async () => {
      const { node, port, stored } = await setup()
      const script = `
import sys, time, json
import paho.mqtt.client as mqtt
c = mqtt.Client(client_id="paho-sensor")
c.username_pw_set("sensor", "${PASSWORD}")
c.connect("127.0.0.1", ${port})
c.loop_start()
for i in range(100):
    c.publish("sensors/py1/humidity", json.dumps({"value": 40 + i % 10}), qos=i % 2).wait_for_publish()
c.publish("sensors/py1/humidity", "{not json", qos=1).wait_for_publish()
c.publish("sensors/py1/humidity", "x" * 5000, qos=1).wait_for_publish()
c.disconnect()
c.loop_stop()
print("sent")
`
      const r = await run(PYTHON, ['-c', script])
      expect(r.out.trim()).toBe('sent')
      const s = await until(async () => {
        const v = await stored('py1')
        return v.count === 100 ? v : null
      }, '100 readings in the store')
      expect(s.min).toBe(40)
      expect(s.max).toBe(49)
      expect(s.sum).toBe(10 * (40 + 49) * 5)
      await until(() => node.stats().malformed === 1 && node.stats().oversize === 1, 'bad messages counted')
      const dead = node.deadLetters.recent(10)
      expect(dead.map((d) => d.code).sort()).toEqual(['FOG_PAYLOAD_MALFORMED', 'FOG_PAYLOAD_TOO_LARGE'])
      expect(dead.every((d) => d.topic === 'sensors/py1/humidity' && d.reason.length > 0)).toBe(true)
    })

    it('a password read from a missing environment variable is refused at start, naming the field', async () => {
      delete process.env.FOGLINE_TEST_MISSING_PW
      const dir = tempDir('fogline-interop-', onTestFinished).path
      const err = await startNode(
        parseConfig(NodeConfig, {
          nodeId: 'x',
          dataDir: join(dir, 'n'),
          broker: { port: 0, users: { s: 'env:FOGLINE_TEST_MISSING_PW' } },
          uplink: { urls: ['mqtt://127.0.0.1:1'] },
          pipelines: [{ id: 'p', input: ['a/+'] }],
        }),
        { configFile: 'node.yaml' },
      ).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FoglineError)
      expect((err as FoglineError).toUserString()).toMatch(
        /FOG_CONFIG_INVALID node\.yaml field broker\.users\.s: .*FOGLINE_TEST_MISSING_PW/,
      )
    })
  },
)
