/**
 * Handle a connected client's QoS 0/1 PUBLISH the way aedes does (lib/handlers/index.js `handle`,
 * handlers/publish.js, write.js), without its per-packet machinery: the series runner's bound callback and
 * closure, the PubAck object, `write`'s `setImmediate` before the publish, and the handler dispatch. Under the
 * real sensor load at QoS 1 those were about a quarter of the node's CPU per reading outside the PUBACK's own
 * write syscall (a steady-state CPU profile, docs/benchmarks.md).
 *
 * Same steps, same order, same hooks: aedes' topic checks ('#', '+', its level ceiling: a packet failing them
 * goes to aedes, which refuses it), `authorizePublish` (the broker's ACL, limits, throttle and the durable
 * QoS 1 hold), then for QoS 1 the 4-byte PUBACK (on a full socket buffer, aedes' own `waitForDrain` before going
 * on), then `broker.publish` (the ACL-drop and routing wrappers), then `nextBatch`; the keepalive timer is
 * refreshed as aedes' `handle` does. What differs: the publish follows the PUBACK in the same turn instead of
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
  conn: { write(b: Buffer): boolean }
  waitForDrain(cb: (err?: Error | null) => void): void
}

interface Packet {
  topic: string | null
  qos: number
  messageId?: number
}

interface Broker {
  maxTopicLevels: number
  authorizePublish(client: Client, packet: Packet, done: (err?: Error | null) => void): void
  publish(packet: Packet, client: Client, done: (err?: Error | null) => void): void
}

export type FastPublish = (client: Client, packet: Packet) => boolean

export function fastPublisher(broker: Broker): FastPublish {
  return (client, packet) => {
    if (!client.connackSent || !client.connected || client.closed || client._paused || packet.qos > 1)
      return false
    const topic = packet.topic!
    if (topic.indexOf('#') > -1 || topic.indexOf('+') > -1) return false
    // aedes' level ceiling (a topic shorter than it cannot reach it)
    if (topic.length >= broker.maxTopicLevels) {
      let levels = 1
      for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47) levels++
      if (levels > broker.maxTopicLevels) return false
    }
    // as aedes' enqueue: one more packet of this batch in hand
    client._parsingBatch++
    const publish = (err?: Error | null) => {
      if (err) return client._nextBatch(err)
      broker.publish(packet, client, client._nextBatch)
    }
    broker.authorizePublish(client, packet, (err) => {
      if (err) return client._nextBatch(err)
      if (packet.qos === 0) return publish()
      if (!client.connecting && !client.connected) return client._nextBatch(new Error('connection closed'))
      const id = packet.messageId!
      const b = Buffer.allocUnsafe(4)
      // [MQTT-3.4.1] PUBACK: fixed header 0x40, remaining length 2, the packet identifier
      b[0] = 0x40
      b[1] = 2
      b[2] = id >> 8
      b[3] = id & 255
      if (!client.conn.write(b) && !client.errored) return client.waitForDrain(publish)
      publish()
    })
    if (client._keepaliveInterval > 0) client._keepaliveTimer!.refresh()
    return true
  }
}
