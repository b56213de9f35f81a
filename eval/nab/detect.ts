/**
 * Streams a series through the node's real `anomaly` stage (createEngine from @fogline/pipeline, the same
 * code a fog node runs) and collects the score it gives each reading (`output: score` on the raw stream),
 * plus the events it raised at the model's own threshold.
 */
import { createEngine, type EngineOutput } from '@fogline/pipeline'
import type { FogEvent } from '@fogline/protocol'

export interface Detection {
  scores: Float64Array
  /** row indexes of the stage's events */
  events: number[]
}

/**
 * Run `values` (with their timestamps) through a fresh engine holding `model` as the model `m`.
 * @example detect({ kind: 'context' }, ts, values).scores
 */
export function detect(model: unknown, ts: number[], values: number[]): Detection {
  const scores = new Float64Array(values.length)
  const events: number[] = []
  let row = 0
  let now = ts[0] ?? 0
  const engine = createEngine(
    [
      {
        id: 'nab',
        input: ['nab/+/+'],
        decoder: { type: 'json', value: '$.value', ts: '$.ts' },
        stages: [{ type: 'anomaly', model: 'm', output: 'score' }],
        output: [{ stream: 'raw' }, { stream: 'event' }],
      },
    ],
    {
      // the engine reads time only through this clock; NAB rows carry their own timestamps
      clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} },
      emit(outs: EngineOutput[]) {
        for (const o of outs) {
          if (o.stream === 'raw') scores[row] = (o.body as { value: number }).value
          else if (o.stream === 'event' && (o.body as FogEvent).kind === 'anomaly') events.push(row)
        }
      },
      deadLetter(d) {
        throw new Error(`dead letter at row ${row}: ${d.reason}`)
      },
    },
  )
  engine.models.set({ m: model })
  for (; row < values.length; row++) {
    now = ts[row]!
    engine.ingest('nab/series/value', Buffer.from(`{"value":${values[row]},"ts":${now}}`))
  }
  engine.close()
  return { scores, events }
}
