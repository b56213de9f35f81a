import { writeFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { type Clock, parseConfig, SimConfig, type SimConfigInput, systemClock } from '@fogline/protocol'
import mqtt from 'mqtt'
import { buildSensors, type GroundTruth, type SimSensor } from './scenario.js'

export interface SimLogger {
  info(msg: string): void
  warn(msg: string): void
}

export interface SimStats {
  /** well-formed readings handed to the socket */
  published: number
  /** malformed payloads handed to the socket */
  malformed: number
  /** well-formed readings per sensor id */
  bySensor: Record<string, number>
  /** readings that were due but could not be sent (publish error) */
  errors: number
  /** scheduler lag: how far behind the schedule the last tick was, ms */
  lagMs: number
}

export interface Simulators {
  stop(): Promise<void>
  stats(): SimStats
  /** the injected anomalies and dropouts (also written to config.groundTruth when set) */
  groundTruth: GroundTruth[]
  /** epoch ms the schedule is relative to */
  startedAt: number
}

/** unwritten publishes allowed before the loop waits (mqtt.js adds one 'drain' listener per blocked write) */
const MAX_INFLIGHT = 512

const silent: SimLogger = { info() {}, warn() {} }

async function connectSim(config: SimConfig, log: SimLogger): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(config.url, {
    clientId: `fogline-sim-${config.seed}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 1000,
    // a long run at thousands of readings/s must not buffer unboundedly while offline
    queueQoSZero: false,
  })
  const noDelay = () => (client.stream as unknown as Socket).setNoDelay?.(true)
  noDelay()
  client.on('connect', noDelay)
  client.on('error', (e) => log.warn(`sim mqtt error: ${e.message}`))
  return client
}

/**
 * One loop for all sensors: each tick publishes every reading that has come due, stamped with its scheduled
 * time. Past MAX_INFLIGHT unwritten packets the socket is the bottleneck: leave the rest due for the next tick
 * (their timestamps stay on schedule; lagMs shows how far behind we are) and rotate who goes first.
 * Lifecycle: start (first tick now) → stop (waits for written readings, at most 5 s).
 */
function startLoop(client: mqtt.MqttClient, sensors: SimSensor[], config: SimConfig, clock: Clock) {
  const stats = { published: 0, malformed: 0, errors: 0, lagMs: 0 }
  let stopped = false
  let timer: unknown
  let inflight = 0
  let drained: (() => void) | undefined
  const send = (topic: string, payload: Buffer, onOk: () => void) => {
    inflight++
    client.publish(topic, payload, { qos: config.qos }, (err) => {
      inflight--
      if (err) stats.errors++
      else onOk()
      if (inflight === 0) drained?.()
    })
  }
  const due = (s: SimSensor, now: number) => {
    while (s.due <= now && inflight < MAX_INFLIGHT) {
      const ts = s.due
      s.due += s.periodMs
      if (!client.connected) {
        stats.errors++
        continue
      }
      const r = s.next(ts)
      if (r === null) continue
      if (r.malformed) send(s.topic, r.payload, () => stats.malformed++)
      else
        send(s.topic, r.payload, () => {
          stats.published++
          s.published++
        })
    }
  }
  let first = 0
  const tick = () => {
    if (stopped) return
    const now = clock.now()
    let oldest = now
    const n = sensors.length
    for (let k = 0; k < n; k++) {
      const s = sensors[(first + k) % n]!
      due(s, now)
      if (s.due < oldest) oldest = s.due
    }
    first = (first + 1) % n
    stats.lagMs = Math.max(0, now - oldest)
    // the scenario's pacing: real time unless the caller injects a clock
    timer = clock.setTimeout(tick, config.tick)
  }
  tick()
  return {
    stats,
    async stop() {
      stopped = true
      clock.clearTimeout(timer)
      // wait for written readings to reach the socket (bounded: a dead broker must not hang stop)
      if (inflight > 0)
        await new Promise<void>((r) => {
          const bound = clock.setTimeout(r, 5000)
          drained = () => {
            clock.clearTimeout(bound)
            r()
          }
        })
    },
  }
}

/**
 * Start simulated sensors publishing JSON readings `{"value", "ts"}` to `sensors/{id}/{metric}`.
 * One MQTT connection and one scheduler loop serve all sensors (no timer per sensor).
 * Lifecycle: start → (tick…) → stop (flushes the socket, then disconnects).
 * @example const sim = await startSimulators({ url: 'mqtt://127.0.0.1:1883', sensors: [{ id: 't1', rate: 10 }] })
 */
export async function startSimulators(
  input: SimConfigInput | SimConfig,
  opts: { clock?: Clock; logger?: SimLogger } = {},
): Promise<Simulators> {
  const config = parseConfig(SimConfig, input)
  const clock = opts.clock ?? systemClock
  const log = opts.logger ?? silent
  const client = await connectSim(config, log)
  const t0 = clock.now()
  const sensors = buildSensors(config, t0)
  const groundTruth = sensors.flatMap((s) => s.groundTruth())
  if (config.groundTruth)
    writeFileSync(
      config.groundTruth,
      groundTruth.map((g) => JSON.stringify(g)).join('\n') + (groundTruth.length ? '\n' : ''),
    )
  log.info(`sim: ${sensors.length} sensors → ${config.url}`)
  const loop = startLoop(client, sensors, config, clock)
  let stopped = false
  return {
    groundTruth,
    startedAt: t0,
    stats: () => {
      const bySensor: Record<string, number> = {}
      for (const s of sensors) bySensor[s.id] = s.published
      return { ...loop.stats, bySensor }
    },
    async stop() {
      if (stopped) return
      stopped = true
      await loop.stop()
      await client.endAsync()
      log.info(`sim: stopped, ${loop.stats.published} readings, ${loop.stats.malformed} malformed`)
    },
  }
}
