import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runCli, tempDir, until } from './helpers.js'

describe('bad input', () => {
  it('counts a malformed sensor payload, sets it aside with its reason, and goes on', async () => {
    const dir = tempDir()
    const cloud = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: join(dir, 'c.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())
    const node = await startNode(
      parseConfig(NodeConfig, {
        nodeId: 'node-x',
        dataDir: join(dir, 'n'),
        broker: { port: 0, maxPayload: 1024 },
        uplink: { urls: [cloud.brokerUrl] },
        pipelines: [
          {
            id: 'p',
            input: ['sensors/+/+'],
            stages: [
              {
                type: 'window',
                kind: 'tumbling',
                size: '200ms',
                aggregates: ['count', 'min', 'max', 'mean', 'sum'],
              },
            ],
          },
        ],
        log: { level: 'silent' },
      }),
    )
    onTestFinished(() => node.stop())
    const c = await mqtt.connectAsync(node.brokerUrl)
    onTestFinished(() => c.endAsync())
    await c.publishAsync('sensors/s1/temperature', '{"value": 1', { qos: 1 }) // truncated JSON
    await c.publishAsync('sensors/s1/temperature', '{"value": "hot"}', { qos: 1 }) // wrong type
    await c.publishAsync('sensors/s1/temperature', Buffer.alloc(2000, 0x41), { qos: 1 }) // oversized
    for (let i = 0; i < 5; i++)
      await c.publishAsync('sensors/s1/temperature', JSON.stringify({ value: i }), { qos: 1 })

    const rows = await until(async () => {
      const r = await cloud.store.querySummaries({ nodeId: 'node-x' })
      return r.reduce((a, x) => a + x.count, 0) === 5 ? r : null
    }, 'the good readings arrive despite the bad ones')
    expect(rows.reduce((a, r) => a + r.sum, 0)).toBe(0 + 1 + 2 + 3 + 4)
    const s = node.stats()
    expect(s.malformed).toBe(2)
    expect(s.oversize).toBe(1)
    const dl = node.deadLetters.recent()
    expect(dl).toHaveLength(3)
    expect(
      dl.every(
        (d) => d.topic === 'sensors/s1/temperature' && d.reason.length > 5 && d.code.startsWith('FOG_'),
      ),
    ).toBe(true)
    expect(dl.map((d) => d.code)).toContain('FOG_PAYLOAD_TOO_LARGE')
  })

  it('refuses an invalid config file at start with a coded, plain error naming file and field, without a stack trace', async () => {
    const dir = tempDir()
    const file = join(dir, 'bad.yaml')
    writeFileSync(
      file,
      `nodeId: node-a
dataDir: ${dir}
uplink: { urls: ['mqtt://127.0.0.1:1'] }
pipelines:
  - id: p
    input: ['sensors/+/+']
    stages:
      - { type: window, kind: tumbling, size: 5s }
    ouptut: { stream: summary }
`,
    )
    const child = runCli(['node', '--config', file])
    const code = await child.exited
    expect(code).not.toBe(0)
    const err = child.err()
    expect(err).toContain('FOG_CONFIG_INVALID')
    expect(err).toContain(file)
    expect(err).toContain('pipelines[0].ouptut')
    expect(err).not.toMatch(/\n\s+at /) // no stack trace
    expect(err.trim().split('\n')).toHaveLength(1)

    const missing = runCli(['node', '--config', join(dir, 'nope.yaml')])
    expect(await missing.exited).not.toBe(0)
    expect(missing.err()).toMatch(/FOG_CONFIG_NOT_FOUND .*nope\.yaml/)
  })

  it('names the pipeline and stage field of a bad stage config', async () => {
    const dir = tempDir()
    const file = join(dir, 'bad-stage.yaml')
    writeFileSync(
      file,
      `nodeId: node-a
dataDir: ${dir}
uplink: { urls: ['mqtt://127.0.0.1:1'] }
pipelines:
  - id: p
    input: ['sensors/+/+']
    stages:
      - { type: windoww, size: 5s }
`,
    )
    const child = runCli(['node', '--config', file])
    expect(await child.exited).not.toBe(0)
    expect(child.err()).toMatch(/FOG_(STAGE_UNKNOWN|CONFIG_INVALID)/)
    expect(child.err()).toContain('windoww')
    expect(child.err()).not.toMatch(/\n\s+at /)
  })
})
