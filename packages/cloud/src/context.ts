import type { Clock, CloudConfig } from '@fogline/protocol'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { CloudBus } from './bus.js'
import type { Fleet } from './fleet.js'
import type { Store } from './store/types.js'

/**
 * What the cloud hands to `registerControlRoutes(app, ctx)` (packages/cloud/src/control, owned by CONTROL).
 * Routes go on `app`; reported state arrives as `bus.on('reported', (nodeId, body) => …)` after it is stored;
 * desired documents go out with `publish(topic, payload, { qos: 1, retain: true })`.
 * Cleanup registered with `onClose` runs when the cloud stops, before the store closes.
 */
export interface ControlContext {
  config: CloudConfig
  store: Store
  fleet: Fleet
  bus: CloudBus
  clock: Clock
  logger: Logger
  /** the aggregator's MQTT client (connected to the embedded or external broker) */
  mqtt: MqttClient
  publish(
    topic: string,
    payload: Buffer | string,
    opts?: { qos?: 0 | 1 | 2; retain?: boolean },
  ): Promise<void>
  onClose(fn: () => Promise<void> | void): void
  /** add the control routes to GET /openapi.json: OpenAPI 3 `paths` and `components.schemas` entries */
  openapi: { add(paths: Record<string, unknown>, schemas?: Record<string, unknown>): void }
}
