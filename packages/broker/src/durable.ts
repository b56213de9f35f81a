import type { AedesOptions, Client, PublishPacket } from 'aedes'

/**
 * Takes a QoS 1 publish before its PUBACK, or a QoS 2 one before its PUBREC; `done()` lets the ack go,
 * `done(err)` drops the client unacked.
 */
export type AcceptDurable = (
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
  accept: AcceptDurable,
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

/** aedes' client has its broker (lib/client.js), which aedes' typings leave out */
interface WithPersistence {
  broker: { persistence: { incomingDelPacket(client: Client, packet: PublishPacket): Promise<unknown> } }
}

/**
 * A new QoS 2 publish, handed to `accept` from aedes' `published` hook: aedes writes the PUBREC when that
 * hook's callback runs (aedes.js: publishFuncsQoS ends in callPublished; handlers/publish.js case 2), and it
 * runs only for a packet id the client's session has not seen (a resend before the PUBREC is answered from
 * aedes' incoming store and never reaches here). So the PUBREC waits for the journal, and a resend is not
 * journaled twice. On `accept`'s error the stored packet goes too, or the client's resend would be taken for
 * a duplicate and answered without being journaled.
 */
export function acceptQos2(
  accept: AcceptDurable,
  client: Client,
  packet: PublishPacket,
  payload: Buffer,
  done: (err?: Error) => void,
): void {
  accept(packet.topic, payload, client.id, (err) => {
    if (!err) return done()
    ;(client as unknown as WithPersistence).broker.persistence.incomingDelPacket(client, packet).then(
      () => done(err),
      () => done(err),
    )
  })
}
