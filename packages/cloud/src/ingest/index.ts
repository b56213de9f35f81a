import type { CloudConfig } from '@fogline/protocol'
import { attachIngest, connectIngest, subscribeUp } from './client.js'
import type { IngestDeps } from './deps.js'

export type { IngestDeps } from './deps.js'
export { handleUp } from './handle.js'
export { followReplicas } from './replicas.js'

/** The running ingest: the aggregator's MQTT client, handling up messages and publishing acks. */
export interface Ingest {
  /** publish through the ingest client (desired state goes out this way) */
  publish(
    topic: string,
    payload: Buffer | string,
    opts?: { qos?: 0 | 1 | 2; retain?: boolean },
  ): Promise<void>
  connected(): boolean
  /** disconnect, then wait for the message being handled */
  close(): Promise<void>
}

/**
 * Connect to the broker, take every up message (store, then ack) and subscribe.
 * Lifecycle: startIngest → messages → close.
 * @example const ingest = await startIngest(deps, config, broker.url, broker.internal)
 */
export async function startIngest(
  deps: IngestDeps,
  config: CloudConfig,
  url: string,
  internal: { username: string; password: string } | null,
): Promise<Ingest> {
  const client = await connectIngest(config, url, deps.logger, deps.clock, internal)
  const handler = attachIngest(deps, client)
  const ingest: Ingest = {
    publish: (topic, payload, o = {}) =>
      client.publishAsync(topic, payload, { qos: o.qos ?? 1, retain: o.retain ?? false }).then(() => {}),
    connected: () => client.connected,
    async close() {
      await client.endAsync(true).catch(() => {})
      await handler.idle()
    },
  }
  try {
    await subscribeUp(client, config)
  } catch (err) {
    await ingest.close()
    throw err
  }
  return ingest
}
