import { fakeClock } from '@fogline/testkit'
import { createEngine, type DeadLetter, type Engine, type EngineOutput } from '../src/index.js'

/** An engine on the fake clock that records its outputs and dead letters. */
export function harness(pipelines: unknown, start?: number) {
  const clock = fakeClock(start)
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
