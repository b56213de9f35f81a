import type { Clock, CloudConfig } from '@fogline/protocol'
import type { Logger } from 'pino'
import type { Fleet } from '../fleet/index.js'
import type { CloudBus } from '../shared/index.js'
import type { Store } from '../store/index.js'

/**
 * What the cloud hands to `startControl(ctx)`. Reported state arrives as `bus.on('reported', (nodeId, body) => …)`
 * after it is stored; desired documents go out with `publish(topic, payload, { qos: 1, retain: true })`.
 */
export interface ControlContext {
  config: CloudConfig
  store: Store
  fleet: Fleet
  bus: CloudBus
  clock: Clock
  logger: Logger
  /** publish through the aggregator's MQTT client (embedded or external broker) */
  publish(
    topic: string,
    payload: Buffer | string,
    opts?: { qos?: 0 | 1 | 2; retain?: boolean },
  ): Promise<void>
}
