import { createEngine } from '@fogline/pipeline'
import { systemClock } from '@fogline/protocol'
import { describe, expect, it, onTestFinished } from 'vitest'
import { engineHealth } from '../../src/desired/health.js'

const good = [{ id: 'p', input: ['sensors/+/+'] }]
const noValue = [{ id: 'p', input: ['sensors/+/+'], decoder: { type: 'json', value: '$.nope' } }]

function engine() {
  const e = createEngine(good, { clock: systemClock, emit: () => {}, deadLetter: () => {} })
  onTestFinished(() => e.close())
  const feed = (n: number, payload = '{"value":1}') => {
    for (let i = 0; i < n; i++) e.ingest('sensors/s1/t', Buffer.from(payload))
  }
  return { e, feed }
}

describe('engine health probe (real pipeline engine)', () => {
  it('is healthy with good readings, and with a few bad ones among them', () => {
    const { e, feed } = engine()
    const probe = engineHealth(() => e.counters(), { minReadings: 10 })
    feed(30)
    feed(3, 'not json')
    expect(probe.check()).toEqual({ ok: true })
  })

  it('fails when a new config dead-letters every reading, judged only after minReadings since the reset', () => {
    const { e, feed } = engine()
    feed(50)
    const probe = engineHealth(() => e.counters(), { minReadings: 10 })
    e.reload(noValue)
    probe.reset()
    feed(9)
    expect(probe.check().ok).toBe(true)
    feed(1)
    const h = probe.check()
    expect(h.ok).toBe(false)
    expect(h.reason).toContain('pipeline p dead-lettered 10 of 10 readings')
    // back to a good config: healthy again from the next reset
    e.reload(good)
    probe.reset()
    feed(20)
    expect(probe.check().ok).toBe(true)
  })
})
