import { writePuback } from './direct-write.js'
import { topicLevels } from './limits.js'

/**
 * Handle a connected client's QoS 0/1 PUBLISH the way aedes does (lib/handlers/index.js `handle`,
 * handlers/publish.js, write.js), without its per-packet machinery: the series runner's bound callback and
 * closure, the PubAck object, `write`'s `setImmediate` before the publish, and the handler dispatch. Under the
 * real sensor load at QoS 1 those were about a quarter of the node's CPU per reading outside the PUBACK's own
 * write syscall (a steady-state CPU profile, docs/benchmarks.md).
 *
 * Same steps, same order, same hooks: aedes' topic checks ('#', '+', its level ceiling: a packet failing them
 * goes to aedes, which refuses it), `authorizePublish` (the broker's ACL, limits, throttle and the durable
 * QoS 1 hold), then for QoS 1 the 4-byte PUBACK (through the socket's handle when nothing waits in front of it,
 * direct-write.ts; on a full socket buffer, aedes' own `waitForDrain` before going on), then `broker.publish`
 * (the ACL-drop and routing wrappers), then `nextBatch`; the keepalive timer is refreshed as aedes' `handle`
 * does. What differs: the publish follows the PUBACK in the same turn instead of
 * one `setImmediate` later. QoS 2, a client not yet connected, and anything else go to aedes (returns false).
 */

interface Client {
  connected: boolean
  connackSent: boolean
  /** set at the start of aedes' close(), which also stops the parser's 'packet' listener */
  closed?: boolean
  connecting?: boolean
  errored?: boolean
  _paused?: boolean
  _keepaliveInterval: number
  _keepaliveTimer: { refresh(): void } | null
  _parsingBatch: number
  _nextBatch: (err?: Error | null) => void
  conn: NodeJS.WritableStream
  waitForDrain(cb: (err?: Error | null) => void): void
}

/** mqtt-packet's PUBLISH packet, as its parser builds it (fast-parse.ts builds the same) */
export interface PublishPacket {
  cmd: string | null
  retain: boolean
  qos: number
  dup: boolean
  length: number
  topic: string | null
  payload: Buffer | null
  messageId?: number
}

interface Broker {
  maxTopicLevels: number
  authorizePublish(client: Client, packet: PublishPacket, done: (err?: Error | null) => void): void
  publish(packet: PublishPacket, client: Client, done: (err?: Error | null) => void): void
}

export type FastPublish = (client: Client, packet: PublishPacket) => boolean

export function fastPublisher(broker: Broker): FastPublish {
  return (client, packet) => {
    if (!client.connackSent || !client.connected || client.closed || client._paused || packet.qos > 1)
      return false
    const topic = packet.topic!
    if (topic.indexOf('#') > -1 || topic.indexOf('+') > -1) return false
    // aedes' level ceiling (a topic shorter than it cannot reach it)
    if (topic.length >= broker.maxTopicLevels && topicLevels(topic) > broker.maxTopicLevels) return false
    // as aedes' enqueue: one more packet of this batch in hand
    client._parsingBatch++
    broker.authorizePublish(client, packet, (err) => {
      if (err) return client._nextBatch(err)
      if (packet.qos === 1) {
        if (!client.connecting && !client.connected) return client._nextBatch(new Error('connection closed'))
        if (!writePuback(client.conn, packet.messageId!) && !client.errored)
          return client.waitForDrain((e) =>
            e ? client._nextBatch(e) : broker.publish(packet, client, client._nextBatch),
          )
      }
      broker.publish(packet, client, client._nextBatch)
    })
    if (client._keepaliveInterval > 0) client._keepaliveTimer!.refresh()
    return true
  }
}
