import type { Clock } from '@fogline/protocol'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { Fleet } from '../fleet/index.js'
import type { CloudBus, CloudMetrics } from '../shared/index.js'
import type { Store } from '../store/index.js'

/** What the ingest handlers use; `client` publishes the acks on down/ack. */
export interface IngestDeps {
  store: Store
  bus: CloudBus
  fleet: Fleet
  clock: Clock
  logger: Logger
  metrics: CloudMetrics
}

export type AckClient = Pick<MqttClient, 'publish'>
