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

/** the alarm limit of `alarmLinePipeline`: the simulated walk stays within 20–30, injected alarms go above */
export const ALARM_ABOVE = 100

/**
 * The factory-line pipeline with an alarm: validate → threshold (an `enter` event above ALARM_ABOVE, a
 * `leave` event when back under) → deadband → window of `windowSize`; outputs events and summaries.
 */
export function alarmLinePipeline(id: string, prefix: string, windowSize = '1m') {
  const base = factoryLinePipeline(id, prefix)
  const [validate, deadband, window] = base.stages
  return {
    ...base,
    stages: [
      validate,
      { type: 'threshold', name: 'too-hot', above: ALARM_ABOVE, severity: 'critical' },
      deadband,
      { ...window, size: windowSize },
    ],
    output: [{ stream: 'event' as const }, { stream: 'summary' as const }],
  }
}
