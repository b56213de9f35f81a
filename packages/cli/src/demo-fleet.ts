/**
 * The demo's fleet: three fog nodes with different pipelines and the sensors that feed each.
 * Windows are short (5 s) so that a first-time user sees summaries within seconds.
 */
export interface DemoNodeSpec {
  nodeId: string
  group: string
  title: string
  pipelines: unknown[]
  sensors: Array<Record<string, unknown>>
}

const json = { type: 'json', value: '$.value', ts: '$.ts' }
const tumbling = (aggregates: string[]) => ({ type: 'window', kind: 'tumbling', size: '5s', aggregates })

export const demoFleet: DemoNodeSpec[] = [
  {
    nodeId: 'node-a',
    group: 'factory',
    title: 'factory line: vibration (deadband, percentiles, events) + temperature',
    pipelines: [
      {
        id: 'vibration',
        input: ['sensors/+/vibration'],
        decoder: json,
        stages: [
          { type: 'validate', min: 0, max: 100 },
          {
            type: 'threshold',
            name: 'vibration-high',
            above: 7.1,
            hysteresis: 0.5,
            hold: '1s',
            severity: 'critical',
          },
          tumbling(['count', 'min', 'max', 'mean', 'sum', 'stddev', 'p95']),
        ],
        output: [{ stream: 'event' }, { stream: 'summary' }],
      },
      {
        id: 'temperature',
        input: ['sensors/+/temperature'],
        decoder: json,
        stages: [
          { type: 'validate', min: -40, max: 300 },
          // learns each oven's level on the node; the oven spike at t=20 s raises one anomaly event per oven
          { type: 'anomaly', model: { kind: 'ewma', alpha: 0.05, k: 6, warmup: 50 }, name: 'oven-odd' },
          { type: 'deadband', absolute: 0.2, maxSilence: '5s' },
          tumbling(['count', 'min', 'max', 'mean', 'sum', 'last']),
        ],
        output: [{ stream: 'event' }, { stream: 'summary' }],
      },
    ],
    sensors: [
      // a burst above 7.1 mm/s at t=12 s raises a vibration-high event (t=12 s)
      {
        id: 'press',
        count: 3,
        metric: 'vibration',
        profile: 'vibration',
        rate: 20,
        base: 2,
        noise: 0.3,
        amplitude: 1,
        malformedRate: 0.005,
        anomalies: [{ kind: 'level', at: '12s', duration: '5s', magnitude: 8 }],
      },
      {
        id: 'oven',
        count: 2,
        metric: 'temperature',
        profile: 'temperature',
        rate: 5,
        base: 180,
        noise: 1,
        amplitude: 3,
        period: '2m',
        anomalies: [{ kind: 'spike', at: '20s', duration: '1s', magnitude: 15 }],
      },
    ],
  },
  {
    nodeId: 'node-b',
    group: 'coldchain',
    title: 'cold chain: fridge temperatures with too-warm events',
    pipelines: [
      {
        id: 'fridges',
        input: ['sensors/+/temperature'],
        decoder: json,
        stages: [
          { type: 'validate', min: -60, max: 60 },
          {
            type: 'threshold',
            name: 'too-warm',
            above: 8,
            hysteresis: 0.5,
            hold: '2s',
            severity: 'critical',
          },
          tumbling(['count', 'min', 'max', 'mean', 'sum', 'p95']),
        ],
        output: [{ stream: 'event', priority: 0 }, { stream: 'summary' }],
      },
    ],
    sensors: [
      {
        id: 'fridge',
        count: 4,
        metric: 'temperature',
        rate: 5,
        base: 4,
        noise: 0.3,
        anomalies: [{ kind: 'drift', at: '5s', duration: '15s', magnitude: 7 }],
      },
    ],
  },
  {
    nodeId: 'node-c',
    group: 'building',
    title: 'building: humidity + CO2 in hopping windows',
    pipelines: [
      {
        id: 'rooms',
        input: ['sensors/+/+'],
        decoder: json,
        stages: [
          { type: 'threshold', name: 'co2-high', above: 1000, hysteresis: 100, hold: '2s' },
          {
            type: 'window',
            kind: 'hopping',
            size: '10s',
            hop: '5s',
            aggregates: ['count', 'min', 'max', 'mean', 'sum'],
          },
        ],
        output: [{ stream: 'event' }, { stream: 'summary' }],
      },
    ],
    sensors: [
      {
        id: 'room-h',
        count: 3,
        metric: 'humidity',
        profile: 'humidity',
        rate: 2,
        base: 45,
        noise: 1,
        period: '5m',
      },
      {
        id: 'room-c',
        count: 3,
        metric: 'co2',
        profile: 'co2',
        rate: 2,
        base: 600,
        noise: 20,
        period: '5m',
        anomalies: [{ kind: 'spike', at: '20s', duration: '6s', magnitude: 800 }],
      },
    ],
  },
]
