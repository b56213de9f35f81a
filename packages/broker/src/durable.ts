import type { AedesOptions, Client, PublishPacket } from 'aedes'

/** Takes a QoS 1 publish before its PUBACK; `done()` lets the PUBACK go, `done(err)` drops the client unacked. */
export type AcceptQos1 = (
  topic: string,
  payload: Buffer,
  clientId: string,
  done: (err?: Error | null) => void,
) => void

/**
 * Hold a client's QoS 1 PUBACK until `accept` says the message is safe. aedes 1.2 writes the PUBACK before it
 * publishes (lib/handlers/publish.js, case 1) and calls `authorizePublish` before both, so the hook goes
 * there, after any authorizer already set (an ACL refusal never reaches `accept`). QoS 0 and 2 and
 * broker-internal publishes pass through; they keep reaching `published`.
 * Returns whether `published` must skip a packet because `accept` already took it.
 */
export function holdQos1Ack(
  options: AedesOptions,
  accept: AcceptQos1,
  maxPayload: number,
  onOversize: ((topic: string, size: number, clientId: string) => void) | undefined,
  /** a packet the authorizer acknowledged but dropped (ACL denial): never handed to `accept` */
  dropped?: WeakSet<object>,
): (packet: PublishPacket, client: Client | null) => boolean {
  const before = options.authorizePublish
  const take = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void) => {
    const payload = packet.payload as Buffer
    if (payload.length > maxPayload) {
      onOversize?.(packet.topic, payload.length, client.id)
      return done(null)
    }
    accept(packet.topic, payload, client.id, done)
  }
  options.authorizePublish = (client, packet, done) => {
    // aedes' default authorizer refuses $SYS; replacing it must keep that
    if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS topic is reserved'))
    if (!client || packet.qos !== 1) return before ? before(client, packet, done) : done(null)
    if (!before) return take(client, packet, done)
    before(client, packet, (err) => (err || dropped?.has(packet) ? done(err) : take(client, packet, done)))
  }
  return (packet, client) => client !== null && client !== undefined && packet.qos === 1
}
