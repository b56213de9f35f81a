import type { CloudConfig } from '@fogline/protocol'
import { type EmbeddedBroker, startEmbeddedBroker } from './embedded.js'

export type { EmbeddedBroker } from './embedded.js'

/** The broker the aggregator ingests from: its own embedded one, or an external broker's URL. */
export interface CloudBroker {
  /** where nodes uplink */
  url: string
  /** where the cloud's own clients connect (the embedded broker's plain loopback listener, or `url`) */
  internalUrl: string
  /** the embedded broker (null with an external one) */
  embedded: EmbeddedBroker | null
  /** credentials of the cloud's own MQTT client, when the embedded broker requires logins */
  internal: { username: string; password: string } | null
  close(): Promise<void>
}

/**
 * The one entry to the cloud's broker: embedded aedes (one-machine default) or an external MQTT 5 broker
 * that is already running. Swapping the embedded broker's implementation changes only this folder.
 * @example const broker = await startCloudBroker(config.broker); mqtt.connect(broker.url)
 */
export async function startCloudBroker(config: CloudConfig['broker']): Promise<CloudBroker> {
  if (!('embedded' in config))
    return { url: config.url, internalUrl: config.url, embedded: null, internal: null, close: async () => {} }
  const b = await startEmbeddedBroker(config.embedded)
  return { url: b.url, internalUrl: b.internalUrl, embedded: b, internal: b.internal, close: () => b.close() }
}
