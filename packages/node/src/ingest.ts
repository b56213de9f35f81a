import { type Broker, startBroker } from '@fogline/broker'
import type { Engine } from '@fogline/pipeline'
import { type Clock, type NodeConfig, RateWindow, resolveSecrets } from '@fogline/protocol'
import type { DeadLetterStore } from './deadletters.js'
import type { DurableIngest } from './journal/ingest.js'
import type { Logger } from './logger.js'

export interface IngestStats {
  readingsIn: number
  readingsPerSec: number
  /** publishes over broker.maxPayload, dead-lettered */
  oversize: number
  /** sensor clients refused for bad credentials */
  authFailures: number
}

export interface Ingest {
  readonly broker: Broker
  stats(): IngestStats
}

export interface IngestOptions {
  config: NodeConfig
  configFile?: string | undefined
  engine: Engine
  deadLetters: DeadLetterStore
  clock: Clock
  log: Logger
  /** the ingest journal: QoS 1 publishes go through it and their PUBACK waits for its commit */
  durable?: DurableIngest | undefined
}

/**
 * The sensors' side: the local broker hands every accepted publish straight to the engine; oversize
 * publishes are dead-lettered and refused logins counted. Start it last: readings must not arrive before
 * the state they belong to is restored.
 * @example const ingest = await startIngest({ config, engine, deadLetters, clock, log })
 */
export async function startIngest(o: IngestOptions): Promise<Ingest> {
  const { config, engine, deadLetters, clock, log } = o
  const users = config.broker.users
    ? Object.fromEntries(resolveSecrets(config.broker.users, 'broker.users', o.configFile))
    : undefined
  const rate = new RateWindow(clock, 5_000)
  const c = { readingsIn: 0, oversize: 0, authFailures: 0 }
  const broker = await startBroker({
    host: config.broker.host,
    port: config.broker.port,
    maxPayload: config.broker.maxPayload,
    ...(users ? { users } : {}),
    onAuthFailure(clientId, username) {
      c.authFailures++
      log.warn(
        { code: 'FOG_AUTH_FAILED', clientId, username: username ?? null },
        'a sensor client was refused: bad user name or password',
      )
    },
    onMessage(topic, payload) {
      c.readingsIn++
      rate.add(1)
      engine.ingest(topic, payload)
    },
    ...(o.durable ? { acceptQos1: durableAccept(o.durable, c, rate) } : {}),
    onOversize(topic, size) {
      c.oversize++
      deadLetters.add({
        ts: clock.now(),
        topic,
        pipelineId: '',
        code: 'FOG_PAYLOAD_TOO_LARGE',
        reason: `payload of ${size} bytes is over broker.maxPayload (${config.broker.maxPayload})`,
        payload: '',
      })
    },
  })
  return { broker, stats: () => ({ ...c, readingsPerSec: rate.perSecond() }) }
}

function durableAccept(durable: DurableIngest, c: { readingsIn: number }, rate: RateWindow) {
  return (topic: string, payload: Buffer, _clientId: string, done: (err?: Error | null) => void) => {
    c.readingsIn++
    rate.add(1)
    durable.accept(topic, payload, done)
  }
}
