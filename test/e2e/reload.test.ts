import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { testCloud } from '../fleet.js'
import { nodeChild, tempDir, until } from './helpers.js'

const yaml = (dir: string, cloudUrl: string, humAggregates: string, extra = '') => `nodeId: node-h
dataDir: ${join(dir, 'node-h')}
broker: { host: 127.0.0.1, port: 0 }
uplink: { urls: ['${cloudUrl}'] }
log: { level: warn }
pipelines:
  - id: temps
    input: ['sensors/+/temperature']
    stages:
      - { type: window, kind: tumbling, size: 3s, aggregates: [count, min, max, mean, sum] }
  - id: hums
    input: ['sensors/+/humidity']
    stages:
      - { type: window, kind: tumbling, size: 3s, aggregates: [${humAggregates}] }
${extra}`

describe('hot reload of `fogline node` on SIGHUP', () => {
  it('applies a changed pipeline without restarting the broker, keeps the other one’s open window, and refuses a bad file', async () => {
    const dir = tempDir()
    const cloud = await testCloud(dir)
    const file = join(dir, 'node.yaml')
    writeFileSync(file, yaml(dir, cloud.brokerUrl, 'count, mean'))
    const { child, url } = await nodeChild(file)
    // one sensor connection for the whole test: a broker restart would drop it
    const sensor = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
    onTestFinished(() => sensor.endAsync(true))
    let dropped = false
    sensor.on('close', () => {
      dropped = true
    })
    const temps = async (from: number, n: number) => {
      for (let i = from; i < from + n; i++)
        await sensor.publishAsync('sensors/t1/temperature', JSON.stringify({ value: i }), { qos: 1 })
    }
    await temps(1, 5)
    await sensor.publishAsync('sensors/h1/humidity', '40', { qos: 1 })

    // change only `hums`
    writeFileSync(file, yaml(dir, cloud.brokerUrl, 'count, mean, max'))
    child.proc.kill('SIGHUP')
    await until(() => /reloaded .*changed=hums .*kept=temps/.exec(child.out()), 'reload line')
    await temps(6, 5)

    // a broken file: refused with a code, file and field; the running pipelines stay
    writeFileSync(file, yaml(dir, cloud.brokerUrl, 'count, median'))
    child.proc.kill('SIGHUP')
    await until(() => /reload refused, running pipelines kept: FOG_/.exec(child.err()), 'refusal')
    expect(child.err()).toContain('node.yaml')
    expect(child.err()).toMatch(/pipelines\[1\]/)
    await temps(11, 5)

    // every temperature reading, before and after both reloads, lands in the kept pipeline's windows
    const rows = await until(async () => {
      const r = await cloud.store.querySummaries({ nodeId: 'node-h', sensorId: 't1' })
      return r.reduce((a, x) => a + x.count, 0) === 15 ? r : null
    }, 'all 15 temperature readings summarized')
    expect(Math.min(...rows.map((r) => r.min))).toBe(1)
    expect(Math.max(...rows.map((r) => r.max))).toBe(15)
    expect(rows.reduce((a, r) => a + r.sum, 0)).toBe(120)
    // the changed pipeline handed its open window over at the reload (a partial summary), nothing lost
    const hums = await until(async () => {
      const r = await cloud.store.querySummaries({ nodeId: 'node-h', sensorId: 'h1' })
      return r.length > 0 ? r : null
    }, 'the humidity reading summarized')
    expect(hums.map((r) => [r.count, r.mean])).toEqual([[1, 40]])
    expect(dropped).toBe(false) // the broker kept the sensor's connection throughout
    expect(child.proc.exitCode).toBeNull()
    child.proc.kill('SIGTERM')
    expect(await child.exited).toBe(0)
  }, 30_000)
})
