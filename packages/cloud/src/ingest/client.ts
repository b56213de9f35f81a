import { randomBytes } from 'node:crypto'
import { type Clock, type CloudConfig, FoglineError, UP_FILTER } from '@fogline/protocol'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { IngestDeps } from './deps.js'
import { handleUp } from './handle.js'

const CONNACK_WAIT_MS = 10_000

/** Connect the aggregator's MQTT client to its broker; a broker that does not answer is FOG_UPLINK_UNAVAILABLE. */
export async function connectIngest(
  config: CloudConfig,
  url: string,
  logger: Logger,
  clock: Clock,
  internal: { username: string; password: string } | null,
): Promise<MqttClient> {
  const ext = 'url' in config.broker ? config.broker : null
  // the embedded broker with node logins gives the cloud's own client a password made for this run
  const login = ext ?? internal
  // mqtt.js owns its reconnect, connect-timeout and keepalive timers (not the injected clock)
  const client = mqtt.connect(url, {
    clientId: ext?.clientId ?? `fogline-cloud-${randomBytes(6).toString('hex')}`,
    // aedes speaks 3.1.1; shared subscriptions need MQTT 5
    protocolVersion: ext ? ext.protocolVersion : 4,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 5000,
    keepalive: 30,
    ...(login?.username !== undefined ? { username: login.username } : {}),
    ...(login?.password !== undefined ? { password: login.password } : {}),
  })
  client.on('connect', () => {
    // Nagle off: acks are small and latency-bound (mqtt.js does not set it)
    ;(client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
  })
  client.on('error', (err) => logger.warn({ err: err.message }, 'cloud MQTT client error'))
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = clock.setTimeout(
        () => reject(new FoglineError('FOG_UPLINK_UNAVAILABLE', 'no CONNACK within 10 s', { url })),
        CONNACK_WAIT_MS,
      )
      client.once('connect', () => {
        clock.clearTimeout(timer)
        resolve()
      })
    })
  } catch (cause) {
    await client.endAsync(true).catch(() => {})
    throw new FoglineError(
      'FOG_UPLINK_UNAVAILABLE',
      `the cloud cannot reach its MQTT broker ${url}: ${(cause as Error).message}`,
      { url },
      { cause },
    )
  }
  return client
}

/** The up filters this aggregator subscribes to (`$share/{group}/…` with an external broker's shareGroup). */
export function upFilters(config: CloudConfig): string[] {
  const ext = 'url' in config.broker ? config.broker : null
  // [MQTT-4.8.2] shared subscription: the broker gives each message to one member of the group
  return (ext?.filters ?? [UP_FILTER]).map((f) => (ext?.shareGroup ? `$share/${ext.shareGroup}/${f}` : f))
}

/** Subscribe to the up topics (as a shared subscription with an external broker's shareGroup). */
export async function subscribeUp(client: MqttClient, config: CloudConfig): Promise<void> {
  const granted = await client.subscribeAsync(upFilters(config), { qos: 1 })
  const refused = granted.find((g) => g.qos > 2)
  if (refused)
    throw new FoglineError(
      'FOG_NOT_AUTHORIZED',
      `the broker refused the subscription ${refused.topic} (reason ${refused.qos})`,
      { topic: refused.topic },
    )
}

/**
 * Wire the handler into an mqtt.js client: messages are handled one at a time and the PUBACK to the broker
 * goes after the commit (mqtt.js reads the next message only then, which is also the backpressure).
 */
export function attachIngest(
  deps: IngestDeps,
  client: MqttClient,
): { idle(): Promise<void>; lastMessageAt(): number } {
  let current: Promise<void> = Promise.resolve()
  let last = deps.clock.now()
  client.handleMessage = (packet: IPublishPacket, done) => {
    last = deps.clock.now()
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
    current = handleUp(deps, client, packet.topic, payload).then(
      () => done(),
      (err) => {
        // never crash the aggregator on one message; the node resends what was not acked
        deps.logger.error({ err: (err as Error).message, topic: packet.topic }, 'up message not handled')
        done()
      },
    )
  }
  return { idle: () => current, lastMessageAt: () => last }
}
