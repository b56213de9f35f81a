import { type CloudConfig, type ErrorData, sleep } from '@fogline/protocol'
import { attachIngest, connectIngest, subscribeUp, upFilters } from './client.js'
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
  /** null while subscribed and taking messages; else why not (readiness) */
  notReady(): ErrorData | null
  /**
   * Stop. With a shared subscription (other replicas take over): unsubscribe first, handle and ack what the
   * broker had already handed over, then disconnect cleanly. Otherwise: disconnect, then wait for the message
   * being handled.
   */
  close(): Promise<void>
}

/** A graceful stop waits for this long without a message before it disconnects, at most DRAIN_MAX_MS. */
const DRAIN_QUIET_MS = 300
const DRAIN_MAX_MS = 10_000

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
  const shared = 'url' in config.broker && config.broker.shareGroup !== false
  let state: 'starting' | 'subscribed' | 'stopping' = 'starting'
  async function drain(): Promise<void> {
    const { clock } = deps
    await client.unsubscribeAsync(upFilters(config))
    // a broker may still send what it had queued for this session before the UNSUBACK: wait until quiet
    const t0 = clock.now()
    while (clock.now() - handler.lastMessageAt() < DRAIN_QUIET_MS && clock.now() - t0 < DRAIN_MAX_MS)
      await sleep(clock, 50)
    await handler.idle()
    // not forced: mqtt.js waits for the acks still in flight to the broker
    await client.endAsync(false)
  }
  const ingest: Ingest = {
    publish: (topic, payload, o = {}) =>
      client.publishAsync(topic, payload, { qos: o.qos ?? 1, retain: o.retain ?? false }).then(() => {}),
    connected: () => client.connected,
    notReady() {
      if (state === 'stopping') return { code: 'FOG_NOT_READY', message: 'stopping', where: {} }
      if (!client.connected)
        return { code: 'FOG_UPLINK_UNAVAILABLE', message: 'not connected to the MQTT broker', where: {} }
      if (state === 'starting') return { code: 'FOG_NOT_READY', message: 'not subscribed yet', where: {} }
      return null
    },
    async close() {
      const was = state
      state = 'stopping'
      if (shared && was === 'subscribed' && client.connected)
        await drain().catch((err) =>
          deps.logger.warn({ err: (err as Error).message }, 'graceful ingest stop failed; forcing'),
        )
      await client.endAsync(true).catch(() => {})
      await handler.idle()
    },
  }
  try {
    await subscribeUp(client, config)
    state = 'subscribed'
  } catch (err) {
    await ingest.close()
    throw err
  }
  return ingest
}
