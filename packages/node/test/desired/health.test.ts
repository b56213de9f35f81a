import { createEngine } from '@fogline/pipeline'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { engineHealth } from '../../src/desired/health.js'

const good = [{ id: 'p', input: ['sensors/+/+'] }]
const noValue = [{ id: 'p', input: ['sensors/+/+'], decoder: { type: 'json', value: '$.nope' } }]
const typo = [{ id: 'p', input: ['sensros/+/+'] }]
const windowed = (size: string) => [
  {
    id: 'p',
    input: ['sensors/+/+'],
    stages: [{ type: 'window', kind: 'tumbling', size, aggregates: ['count'] }],
  },
]

/** The real engine on the fake clock; `feed(n)` sends n readings 100 ms apart. */
function setup(pipelines: unknown = good, connected = () => true) {
  const clock = fakeClock(1_700_000_000_000)
  const e = createEngine(pipelines, { clock, emit: () => {}, deadLetter: () => {} })
  onTestFinished(() => e.close())
  const feed = (n: number, payload = '{"value":1}') => {
    for (let i = 0; i < n; i++) {
      clock.advance(100)
      e.tick(clock.now())
      e.ingest('sensors/s1/t', Buffer.from(payload))
    }
  }
  const probe = engineHealth(() => e.counters(), { minReadings: 10, now: () => clock.now(), connected })
  // apply a new pipeline set the way the agent does: rates of the old one, reload, new window
  const change = (p: unknown) => {
    probe.beforeChange()
    e.reload(p)
    probe.reset()
  }
  return { e, feed, probe, change, clock }
}

describe('canary health probe (real pipeline engine, fake clock)', () => {
  it('is healthy with good readings, and with a few bad ones among them', () => {
    const { feed, probe, change } = setup()
    feed(30)
    change([{ id: 'p', input: ['sensors/+/+', 'other/+'] }])
    feed(30)
    feed(2, 'not json')
    expect(probe.check(true)).toEqual({ ok: true })
  })

  it('fails when dead letters rise above the previous version: judged only after minReadings', () => {
    const { feed, probe, change } = setup()
    feed(50)
    change(noValue)
    feed(9)
    expect(probe.check(false).ok).toBe(true)
    feed(1)
    const h = probe.check(false)
    expect(h.ok).toBe(false)
    expect(h.reason).toContain(
      'pipeline p dead-lettered 10 of 10 readings since the change (10 malformed; 0% before)',
    )
  })

  it('does not fail a version whose dead letters stay at the previous level', () => {
    const { feed, probe, change } = setup(noValue)
    feed(50) // everything dead-lettered before as well
    change([{ ...noValue[0], input: ['sensors/+/+', 'other/+'] }])
    feed(50)
    expect(probe.check(true)).toEqual({ ok: true })
  })

  it('fails a pipeline that had input before and gets none now (a mistyped input), at the end of the window', () => {
    const { feed, probe, change } = setup()
    feed(40)
    change(typo)
    feed(40)
    expect(probe.check(false).ok).toBe(true) // not judged before the window ends
    const h = probe.check(true)
    expect(h.ok).toBe(false)
    expect(h.reason).toContain(
      'pipeline p got no input in the health window (it had 40 readings in the 4.0 s before the change)',
    )
    expect(h.reason).toContain('pipeline p made 0 outputs in 4.0 s, expected about 40 at its earlier rate')
  })

  it('fails when outputs fall to less than half the earlier rate', () => {
    const { feed, probe, change } = setup(windowed('500ms'))
    feed(100) // 10 s: about 20 windows
    change(windowed('5s'))
    feed(100) // 10 s: about 2 windows, a tenth of the rate
    const h = probe.check(true)
    expect(h.ok).toBe(false)
    expect(h.reason).toMatch(/pipeline p made \d outputs in 10\.0 s, expected about (19|20|21)/)
    expect(h.reason).not.toContain('got no input')
  })

  it('fails when the node loses its cloud link during the window; every failed check is in the reason', () => {
    let up = true
    const { feed, probe, change } = setup(good, () => up)
    feed(40)
    change(typo)
    up = false
    feed(40)
    const h = probe.check(true)
    expect(h.ok).toBe(false)
    expect(h.reason?.split('; ')).toEqual([
      'pipeline p got no input in the health window (it had 40 readings in the 4.0 s before the change)',
      'pipeline p made 0 outputs in 4.0 s, expected about 40 at its earlier rate',
      'the node lost its cloud connection during the health window',
    ])
  })

  it('judges a new pipeline only by its dead letters (no earlier rates)', () => {
    const { feed, probe, change } = setup()
    feed(40)
    change([{ id: 'fresh', input: ['nothing/+'] }])
    feed(40)
    expect(probe.check(true)).toEqual({ ok: true })
  })
})
