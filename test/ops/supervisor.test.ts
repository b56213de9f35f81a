import { createSupervisor, type SupervisorEvent } from '@fogline/node'
import { createEngine, type EngineOutput } from '@fogline/pipeline'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { registerThrowingStage } from './throwing-stage.js'

describe('pipeline supervisor', () => {
  it('restarts a pipeline whose stage throws with backoff, then quarantines and reports it; another pipeline keeps producing summaries throughout', () => {
    onTestFinished(registerThrowingStage())
    const clock = fakeClock()
    const t0 = clock.now()
    const events: Array<SupervisorEvent & { at: number }> = []
    const outs: EngineOutput[] = []
    const sup = createSupervisor({
      clock,
      maxRestarts: 3,
      backoff: 1000,
      backoffMax: 60_000,
      resetAfter: 600_000,
      restart: (id) => engine.restartPipeline(id),
      report: (e) => events.push({ ...e, at: clock.now() - t0 }),
    })
    onTestFinished(() => sup.close())
    const engine = createEngine(
      [
        { id: 'bad', input: ['sensors/bad/+'], stages: [{ type: 'explode' }], output: { stream: 'summary' } },
        {
          id: 'good',
          input: ['sensors/good/+'],
          stages: [{ type: 'window', kind: 'count', count: 2, aggregates: ['count', 'sum'] }],
        },
      ],
      {
        clock,
        emit: (o) => outs.push(...o),
        deadLetter: () => {},
        onPipelineError: (id, err) => sup.failed(id, err),
      },
    )
    onTestFinished(() => engine.close())

    // 20 s: every second one reading for each pipeline's sensors (two for the good one: one summary a second)
    const goodPerSecond: number[] = []
    for (let s = 0; s < 20; s++) {
      const before = outs.filter((o) => o.pipelineId === 'good').length
      engine.ingest('sensors/bad/t', Buffer.from('1'))
      engine.ingest('sensors/good/t', Buffer.from('1'))
      engine.ingest('sensors/good/t', Buffer.from('2'))
      goodPerSecond.push(outs.filter((o) => o.pipelineId === 'good').length - before)
      clock.advance(1000)
    }

    // failures at 0 s, then after each restart: backoff 1 s, 2 s, 4 s; the 4th failure (> maxRestarts 3) quarantines
    expect(events.map((e) => [e.kind, e.at, 'inMs' in e ? e.inMs : null])).toEqual([
      ['restarting', 0, 1000],
      ['restarted', 1000, null],
      ['restarting', 1000, 2000],
      ['restarted', 3000, null],
      ['restarting', 3000, 4000],
      ['restarted', 7000, null],
      ['quarantined', 7000, null],
    ])
    const q = events.at(-1) as Extract<SupervisorEvent, { kind: 'quarantined' }>
    expect(q.error).toEqual({
      code: 'FOG_INTERNAL',
      message: 'stage bug: cannot read property of undefined',
      where: { pipeline: 'bad' },
    })
    expect(sup.quarantined()).toEqual(['bad'])
    expect(sup.status()['bad']).toMatchObject({ state: 'quarantined', failures: 4, restarts: 3 })
    expect(engine.stopped()).toEqual(['bad'])
    // the good pipeline never missed a second: one summary of two readings each time
    expect(goodPerSecond).toEqual(Array(20).fill(1))
    expect(
      outs.filter((o) => o.pipelineId === 'good').every((o) => (o.body as { count: number }).count === 2),
    ).toBe(true)
    // the bad pipeline's readings are still counted (taken, then skipped while it is down)
    expect(engine.counters()['bad']!.readingsIn).toBe(4)
  })

  it('a pipeline that runs resetAfter without failing starts counting failures from zero', () => {
    const clock = fakeClock()
    const restarted: string[] = []
    const sup = createSupervisor({
      clock,
      maxRestarts: 1,
      backoff: 100,
      backoffMax: 1000,
      resetAfter: 10_000,
      restart: (id) => restarted.push(id),
      report: () => {},
    })
    onTestFinished(() => sup.close())
    sup.failed('p', new Error('a'))
    clock.advance(100)
    clock.advance(20_000) // ran well for 20 s
    sup.failed('p', new Error('b'))
    clock.advance(100)
    expect(restarted).toEqual(['p', 'p'])
    expect(sup.quarantined()).toEqual([])
  })
})
