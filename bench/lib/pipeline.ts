/** The factory line's stages: validate → deadband → 1-min tumbling window with 6 aggregates. */
export const FACTORY_LINE_STAGES = [
  { type: 'validate', min: -50, max: 150 },
  { type: 'deadband', absolute: 0.05 },
  {
    type: 'window',
    kind: 'tumbling',
    size: '1m',
    aggregates: ['count', 'min', 'max', 'mean', 'sum', 'stddev'],
  },
]

/**
 * The factory-line pipeline every node bench runs (validate → deadband → 1-min window with 6 aggregates),
 * the same work the Node-RED flow in bench/node-red does; one definition so the benches cannot drift apart.
 */
export function factoryLinePipeline(id: string, prefix: string) {
  return {
    id,
    input: [`${prefix}/sensors/+/+`],
    decoder: {
      type: 'json' as const,
      value: '$.value',
      ts: '$.ts',
      sensorId: 'topic[2]',
      metric: 'topic[3]',
    },
    stages: FACTORY_LINE_STAGES,
    output: { stream: 'summary' as const },
  }
}
