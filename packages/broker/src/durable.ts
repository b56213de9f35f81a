import type { Aedes, AedesOptions, Client, PublishPacket } from 'aedes'

/**
 * Takes a QoS 1 publish before its PUBACK, or a QoS 2 one before its PUBREC (with its packet id: `messageId`);
 * `done()` lets the ack go, `done(err)` drops the client unacked.
 */
export type AcceptDurable = (
  topic: string,
  payload: Buffer,
  clientId: string,
  done: (err?: Error | null) => void,
  messageId?: number,
) => void

/**
 * QoS 2 packet ids that outlive the process: taken with their reading (`AcceptDurable` with a `messageId`), kept
 * until the PUBREL or a clean session. The node's ingest journal keeps them (journal/log.ts).
 */
export interface Qos2Ids {
  /** whether the id was taken and not released, by this process or one before it */
  held(clientId: string, messageId: number): boolean
  /** a resend (or PUBREL) of a held id was answered from here, without taking the reading again */
  resent(clientId: string, messageId: number): void
  /** forget the id; `done` once that is durable (the PUBCOMP waits for it) */
  release(clientId: string, messageId: number, done: (err?: Error | null) => void): void
  /** a clean session began or ended: forget the client's ids */
  clear(clientId: string): void
  /** `done` once every reading taken so far is durable (`err`: its commit failed) */
  durable(done: (err?: Error | null) => void): void
}

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
  broker: { persistence: IncomingStore }
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
  accept(
    packet.topic,
    payload,
    client.id,
    (err) => {
      if (!err) return done()
      ;(client as unknown as WithPersistence).broker.persistence.incomingDelPacket(client, packet).then(
        () => done(err),
        () => done(err),
      )
    },
    packet.messageId,
  )
}

interface IncomingStore {
  incomingGetPacket(client: Client, packet: { cmd: string; messageId?: number }): Promise<unknown>
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<unknown>
  cleanIncoming?(client: Client): Promise<unknown>
}

/**
 * Exactly once for QoS 2 across a crash of the node. aedes knows a QoS 2 resend by its packet id, from the
 * session's incoming store (aedes-persistence: in memory), and a restart forgets it: a reading journaled before a
 * crash whose PUBREC did not go out, resent after it (a session with `clean: false`), was taken again and
 * counted twice. Here aedes' store is backed by `ids`, which the journal keeps with each reading:
 * - a PUBLISH or PUBREL of a held id is found (aedes answers PUBREC or PUBCOMP and does not publish again), as
 *   aedes answers a resend it has in memory: by the packet id alone. A client reuses an id only after its
 *   PUBCOMP, which waits for the release; the DUP flag is not required, because mqtt.js (5.x) resends from its
 *   store without it. (A client that drops its session on a CONNACK without Session Present — MQTT 5's rule,
 *   not 3.1.1's, the only protocol this broker speaks — and reuses a held id would lose that message.)
 * - aedes deleting an id at the PUBREL releases it; the PUBCOMP waits for that to be durable.
 * - a clean session (CONNECT or DISCONNECT with `clean: true`) clears the client's ids, as aedes clears its store
 *   [MQTT-3.1.2-6].
 * - a resend aedes finds in its own store gets its PUBREC only once what was journaled is durable: the first
 *   send may still wait for its commit (a resend on a new connection that took the session over).
 */
export function durableQos2Ids(aedes: Aedes, ids: Qos2Ids): void {
  const p = (aedes as unknown as { persistence: IncomingStore }).persistence
  const get = p.incomingGetPacket.bind(p)
  const del = p.incomingDelPacket.bind(p)
  const clean = p.cleanIncoming?.bind(p)
  p.incomingGetPacket = (client, packet) =>
    get(client, packet).then(
      // a resend while the first one still waits for its commit (on a new connection that took the session
      // over) must not get its PUBREC before the first one would; a failed commit makes it a new message
      (found) =>
        packet.cmd === 'publish'
          ? new Promise((res, rej) => ids.durable((e) => (e ? rej(e) : res(found))))
          : found,
      (err: unknown) => {
        const id = packet.messageId
        if (id === undefined || !ids.held(client.id, id)) throw err
        ids.resent(client.id, id)
        return { cmd: 'publish', qos: 2, messageId: id }
      },
    )
  p.incomingDelPacket = async (client, packet) => {
    const id = packet.messageId
    const held = id !== undefined && ids.held(client.id, id)
    try {
      await del(client, packet)
    } catch (err) {
      // aedes has no packet for an id taken before the restart: ours is the only one
      if (!held) throw err
    }
    if (held) await new Promise<void>((res, rej) => ids.release(client.id, id!, (e) => (e ? rej(e) : res())))
  }
  if (clean)
    p.cleanIncoming = async (client) => {
      await clean(client)
      ids.clear(client.id)
    }
}
