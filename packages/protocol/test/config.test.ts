import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FoglineError, loadConfigFile, NodeConfig, parseConfigText, parseDuration } from '../src/index.js'

const valid = `nodeId: node-a
dataDir: /tmp/x
uplink:
  urls: [mqtt://127.0.0.1:1885]
pipelines:
  - id: temps
    input: ['sensors/+/+']
    stages:
      - { type: window, kind: tumbling, size: 5s }
`

function errorOf(fn: () => unknown): FoglineError {
  try {
    fn()
  } catch (e) {
    if (e instanceof FoglineError) return e
    throw e
  }
  throw new Error('expected a FoglineError')
}

describe('config loading', () => {
  it('parses a valid node config and fills defaults', () => {
    const c = parseConfigText(NodeConfig, valid, 'a.yaml')
    expect(c.nodeId).toBe('node-a')
    expect(c.broker.port).toBe(1883)
    expect(c.uplink.ackTimeout).toBe(5000)
    expect(c.outbox.synchronous).toBe('NORMAL')
    expect(c.checkpoint.interval).toBe(5000)
  })

  it('names file, field and line of an invalid value', () => {
    const e = errorOf(() => parseConfigText(NodeConfig, valid.replace('node-a', 'node a!'), 'cfg/a.yaml'))
    expect(e.code).toBe('FOG_CONFIG_INVALID')
    expect(e.where).toMatchObject({ file: 'cfg/a.yaml', field: 'nodeId', line: 1 })
    expect(e.toUserString()).toMatch(/^FOG_CONFIG_INVALID cfg\/a\.yaml:1 field nodeId: /)
  })

  it('rejects unknown keys with their path', () => {
    const e = errorOf(() =>
      parseConfigText(NodeConfig, valid.replace('dataDir: /tmp/x', 'dataDir: /tmp/x\nbrokr: {}'), 'a.yaml'),
    )
    expect(e.code).toBe('FOG_CONFIG_INVALID')
    expect(e.where.field).toBe('brokr')
    expect(e.where.line).toBe(3)
    expect(e.message).toMatch(/unknown key "brokr"/)
  })

  it('names a missing nested field', () => {
    const e = errorOf(() =>
      parseConfigText(NodeConfig, valid.replace("    input: ['sensors/+/+']\n", ''), 'a.yaml'),
    )
    expect(e.where.field).toBe('pipelines[0].input')
  })

  it('reports YAML syntax errors and missing files with codes', () => {
    expect(errorOf(() => parseConfigText(NodeConfig, 'a: [1, 2', 'bad.yaml')).code).toBe('FOG_CONFIG_PARSE')
    const dir = mkdtempSync(join(tmpdir(), 'fogline-'))
    const e = errorOf(() => loadConfigFile(NodeConfig, join(dir, 'missing.yaml')))
    expect(e.code).toBe('FOG_CONFIG_NOT_FOUND')
    writeFileSync(join(dir, 'ok.yaml'), valid)
    expect(loadConfigFile(NodeConfig, join(dir, 'ok.yaml')).nodeId).toBe('node-a')
  })

  it('parses durations and refuses nonsense', () => {
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('1m')).toBe(60_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('soon')).toBeNaN()
    const e = errorOf(() =>
      parseConfigText(NodeConfig, valid.replace('urls:', 'ackTimeout: soon\n  urls:'), 'a.yaml'),
    )
    expect(e.where.field).toBe('uplink.ackTimeout')
  })
})

describe('generated JSON Schema', () => {
  it('configs/schema matches the zod schemas (run `npm run schema` after changing a schema)', async () => {
    const { readFileSync } = await import('node:fs')
    const { configJsonSchemas } = await import('../src/index.js')
    for (const [name, schema] of Object.entries(configJsonSchemas())) {
      const file = join(__dirname, `../../../configs/schema/${name}.schema.json`)
      expect(JSON.parse(readFileSync(file, 'utf8')), `${name}.schema.json is stale`).toEqual(schema)
    }
  })
})
