import { fileURLToPath } from 'node:url'
import { loadConfigFile, NodeConfig } from '@fogline/protocol'
import { describe, expect, it } from 'vitest'
import { validatePipelines } from '../src/index.js'
import { harness } from './helpers.js'

const configs = fileURLToPath(new URL('../../../configs/', import.meta.url))

describe('example node configs', () => {
  for (const name of ['factory-line.yaml', 'cold-chain.yaml', 'building.yaml']) {
    it(`${name} is a valid node config with valid pipelines`, () => {
      const file = `${configs}${name}`
      const cfg = loadConfigFile(NodeConfig, file)
      const pipelines = validatePipelines(cfg.pipelines, { file })
      expect(pipelines.length).toBeGreaterThan(0)
      expect(() => harness(pipelines).engine.close()).not.toThrow()
    })
  }

  it('cold-chain: °F text readings become °C events and summaries', () => {
    const cfg = loadConfigFile(NodeConfig, `${configs}cold-chain.yaml`)
    const h = harness(cfg.pipelines, 0)
    // 41 °F = 5 °C for 10 min, then 50 °F = 10 °C for 6 min
    for (let t = 0; t < 16 * 60_000; t += 30_000) {
      h.clock.set(t)
      h.send('sensors/truck-7/temperature', t < 10 * 60_000 ? '41' : '50')
    }
    const ev = h.bodies('event')
    expect(ev).toEqual([
      expect.objectContaining({ kind: 'enter', name: 'too-warm', sensorId: 'truck-7', ts: 15 * 60_000 }),
    ])
    expect(ev[0].value).toBeCloseTo(10, 9)
    const s = h.bodies()
    expect(s[0]).toMatchObject({ start: 0, end: 300_000, count: 10 })
    expect(s[0].mean).toBeCloseTo(5, 9)
  })

  it('building: hopping windows from payload fields and topic segments', () => {
    const cfg = loadConfigFile(NodeConfig, `${configs}building.yaml`)
    const h = harness(cfg.pipelines, 0)
    h.send('building/3/r301/co2', { ppm: 800 })
    h.engine.tick(15 * 60_000)
    expect(h.bodies().map((s) => [s.sensorId, s.metric, s.start, s.count])).toEqual([
      ['r301', 'co2', -10 * 60_000, 1],
      ['r301', 'co2', -5 * 60_000, 1],
      ['r301', 'co2', 0, 1],
    ])
  })
})
