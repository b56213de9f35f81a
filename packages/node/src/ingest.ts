import { type Broker, brokerOptionsFromConfig, startBroker } from '@fogline/broker'
import type { Engine } from '@fogline/pipeline'
import { type Clock, type NodeConfig, RateWindow } from '@fogline/protocol'
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
  /** the ingest journal: QoS 1 and 2 publishes go through it and their PUBACK or PUBREC waits for its commit */
  durable?: DurableIngest | undefined
}

/**
 * The sensors' side: the local broker hands every accepted publish straight to the engine; oversize
 * publishes are dead-lettered and refused logins counted. Start it last: readings must not arrive before
 * the state they belong to is restored.
 * @example const ingest = await startIngest({ config, engine, deadLetters, clock, log })
 */
export async function startIngest(o: IngestOptions): Promise<Ingest> {
  const { config, engine, deadLetters, clock, log, durable } = o
  const rate = new RateWindow(clock, 5_000)
  // QoS 0 (QoS 1 and 2 too with the journal off): chosen once, not per reading. The clock is read once per
  // reading, here, and its time handed on (rate, journal, engine): each read is a call into the runtime
  const ingestUnacked = durable
    ? (t: string, p: Buffer, now: number) => durable.ingestUnacked(t, p, now)
    : (t: string, p: Buffer, now: number) => engine.ingest(t, p, now)
  const c = { readingsIn: 0, oversize: 0, authFailures: 0 }
  const broker = await startBroker({
    // listeners, PEM files, password file, ACL, limits; plaintext passwords refused (FOG_CONFIG_INVALID)
    ...brokerOptionsFromConfig(config.broker, { file: o.configFile }),
    clock,
    // the broker logs each refusal with its reason (once a minute per source and reason)
    log,
    onAuthFailure() {
      c.authFailures++
    },
    onMessage(topic, payload) {
      const now = clock.now()
      c.readingsIn++
      rate.add(1, now)
      ingestUnacked(topic, payload, now)
    },
    ...(o.durable
      ? { acceptDurable: durableAccept(o.durable, c, rate, clock), qos2Ids: o.durable.qos2Ids() }
      : {}),
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
  // which listeners are open, and to whom (broker.describe() is there for a start banner too)
  log.info({ listeners: broker.describe() }, 'sensor broker listening')
  return { broker, stats: () => ({ ...c, readingsPerSec: rate.perSecond() }) }
}

function durableAccept(durable: DurableIngest, c: { readingsIn: number }, rate: RateWindow, clock: Clock) {
  return (
    topic: string,
    payload: Buffer,
    clientId: string,
    done: (err?: Error | null) => void,
    messageId?: number,
  ) => {
    const now = clock.now()
    c.readingsIn++
    rate.add(1, now)
    durable.accept(topic, payload, done, clientId, messageId, now)
  }
}
