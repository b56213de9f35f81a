import type { Clock } from '@fogline/protocol'
import { createEngine, type DeadLetter, type Engine, type EngineOutput } from '../src/index.js'

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): Clock & { t: number; set(t: number): void } {
  const c = {
    t: start,
    now: () => c.t,
    set(t: number) {
      c.t = t
    },
    setTimeout: () => 0,
    clearTimeout: () => {},
  }
  return c
}

/** An engine with a manual clock that records its outputs and dead letters. */
export function harness(pipelines: unknown, start?: number) {
  const clock = manualClock(start)
  const outputs: EngineOutput[] = []
  const dead: DeadLetter[] = []
  const engine: Engine = createEngine(pipelines, {
    clock,
    emit: (o) => outputs.push(...o),
    deadLetter: (d) => dead.push(d),
  })
  const send = (topic: string, payload: unknown) =>
    engine.ingest(
      topic,
      Buffer.isBuffer(payload)
        ? payload
        : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    )
  return {
    clock,
    outputs,
    dead,
    engine,
    send,
    bodies: (stream = 'summary') => outputs.filter((o) => o.stream === stream).map((o) => o.body as any),
  }
}
