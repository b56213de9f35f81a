import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { sensors, testCloud, testNode, windowPipeline } from '../fleet.js'
import { runCli, tempDir, until } from './helpers.js'

/**
 * A node config file `dir/name` (offline uplink) with one pipeline `p` on sensors/+/+ whose `stages:` key ends
 * with `tail` (YAML lines, the stage list and any keys after it); returns its path.
 */
function pipelineConfig(dir: string, name: string, tail: string): string {
  const file = join(dir, name)
  writeFileSync(
    file,
    `nodeId: node-a
dataDir: ${dir}
uplink: { urls: ['mqtt://127.0.0.1:1'] }
pipelines:
  - id: p
    input: ['sensors/+/+']
    stages:
${tail}`,
  )
  return file
}

describe('bad input', () => {
  it('counts a malformed sensor payload, sets it aside with its reason, and goes on', async () => {
    const dir = tempDir()
    const cloud = await testCloud(dir)
    const node = await testNode(dir, 'node-x', cloud.brokerUrl, {
      broker: { port: 0, maxPayload: 1024 },
      pipelines: [windowPipeline('200ms')],
    })
    const c = await sensors(node.brokerUrl)
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
    // a typo in a pipeline's key
    const file = pipelineConfig(
      dir,
      'bad.yaml',
      '      - { type: window, kind: tumbling, size: 5s }\n    ouptut: { stream: summary }\n',
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
    const file = pipelineConfig(dir, 'bad-stage.yaml', '      - { type: windoww, size: 5s }\n')
    const child = runCli(['node', '--config', file])
    expect(await child.exited).not.toBe(0)
    expect(child.err()).toMatch(/FOG_(STAGE_UNKNOWN|CONFIG_INVALID)/)
    expect(child.err()).toContain('windoww')
    expect(child.err()).not.toMatch(/\n\s+at /)
  })
})
