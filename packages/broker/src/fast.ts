import type { Aedes, Client, PublishPacket } from 'aedes'

type Done = (err?: Error | null) => void
type Publish = (packet: PublishPacket, client: Client | null, done: Done) => void

/**
 * Skip aedes' routing for a publish nobody can receive. On a gateway, sensors publish and nothing subscribes:
 * aedes still runs, per packet, a publish series (new Packet, PublishState, runSeries), an offline-queue lookup
 * for QoS > 0 (a promise and a Qlobber match in the persistence) and an mqemitter emit (a second Qlobber
 * match) — about a tenth of the node's CPU per reading under the paced load (bench/paced.ts, docs/benchmarks.md).
 * When no client subscription is registered (counted from aedes' own subscribe/unsubscribe), no session was
 * ever persisted with subscriptions, the packet is not retained and not $SYS, the packet goes straight to
 * `published` (and the 'publish' event), as aedes would call them after routing it to nobody.
 * Returns a function telling how many client subscriptions are registered (for tests).
 */
export function skipUnroutable(aedes: Aedes): () => number {
  const a = aedes as unknown as {
    publish: Publish
    subscribe(topic: string, func: unknown, done?: Done): void
    unsubscribe(topic: string, func: unknown, done?: Done): void
    published: Publish
    persistence: { addSubscriptions(client: unknown, subs: unknown): Promise<unknown> }
    emit(event: string, ...args: unknown[]): boolean
  }
  // subscriptions by handler: only what aedes actually registered comes off again
  const subs = new Map<unknown, Set<string>>()
  let count = 0
  let persisted = false
  const subscribe = a.subscribe.bind(aedes)
  const unsubscribe = a.unsubscribe.bind(aedes)
  a.subscribe = (topic, func, done) => {
    let set = subs.get(func)
    if (!set) subs.set(func, (set = new Set()))
    if (!set.has(topic)) {
      set.add(topic)
      count++
    }
    subscribe(topic, func, done)
  }
  a.unsubscribe = (topic, func, done) => {
    const set = subs.get(func)
    if (set?.delete(topic)) {
      count--
      if (set.size === 0) subs.delete(func)
    }
    unsubscribe(topic, func, done)
  }
  // a persistent session's subscriptions stay in the persistence while it is offline: then aedes must route
  const addSubscriptions = a.persistence.addSubscriptions.bind(a.persistence)
  a.persistence.addSubscriptions = (client, s) => {
    persisted = true
    return addSubscriptions(client, s)
  }
  const publish = a.publish.bind(aedes)
  a.publish = (packet, client, done) => {
    if (
      count > 0 ||
      persisted ||
      packet.retain ||
      typeof client === 'function' ||
      packet.topic.startsWith('$')
    )
      return publish(packet, client, done)
    // the same two calls aedes makes after routing (callPublished in aedes.js)
    a.published(packet, client, done ?? (() => {}))
    a.emit('publish', packet, client)
  }
  return () => count
}

/** An MQTT 3.1.1 PUBACK [MQTT-3.4.1]: fixed header 0x40, remaining length 2, the packet identifier. */
export function pubackBytes(messageId: number): Buffer {
  return putPuback(Buffer.allocUnsafe(4), messageId)
}

/** An MQTT 3.1.1 PUBACK (40 02 <id>) into the 4 bytes of `b`; returns `b`. */
export function putPuback(b: Buffer, messageId: number): Buffer {
  b[0] = 0x40
  b[1] = 2
  b[2] = messageId >> 8
  b[3] = messageId & 255
  return b
}

type WriteToStream = ((
  packet: { cmd: string; messageId?: number },
  stream: NodeJS.WritableStream,
  opts?: unknown,
) => boolean) & { cacheNumbers?: boolean }

interface MqttPacketModule {
  writeToStream: WriteToStream
  parser(opt?: unknown): { _list: unknown; _states: readonly string[] }
  __foglineFastPuback?: true
}

/**
 * Write an MQTT 3.1.1 PUBACK as one 4-byte write. mqtt-packet's writeToStream corks the socket, makes three
 * small writes (header, length, id) and uncorks on the next tick, so each PUBACK costs a writev of three
 * buffers, a nextTick and the Writable buffering around them; at 10,000 QoS 1 readings/s that is a visible
 * share of the node's CPU (docs/benchmarks.md). Patched on the mqtt-packet module aedes imports (its `write`
 * looks `writeToStream` up at each call); anything but a plain v3/v4 PUBACK goes to the original. Idempotent.
 * Per connection, the parser gets a plain BufferList instead of a Duplex stream (see below).
 * Also turns off mqtt-packet's number cache: on its first write it builds 65,536 two-byte Buffers (6 MiB of
 * heap, 65k objects every major GC walks; heap snapshot of bare aedes at 1,000 connections), to save one
 * 2-byte allocation per packet id written — and this node writes few packets (CONNACK, SUBACK, PUBACK here).
 */
export function fastPuback(mqttPacket: MqttPacketModule, BufferList?: new () => unknown): void {
  if (mqttPacket.__foglineFastPuback) return
  // each client's parser buffers its input in a `bl` BufferListStream, a readable-stream Duplex (two stream
  // states, listeners) it never uses as a stream; the plain BufferList of the same package does the same job
  // Each parser also gets its own array of its four state names, which it only reads (parser.js): one
  // frozen array serves them all
  if (BufferList) {
    const parser = mqttPacket.parser
    let states: readonly string[] | undefined
    mqttPacket.parser = (opt) => {
      const p = parser(opt)
      p._list = new BufferList()
      p._states = states ??= Object.freeze([...p._states])
      return p
    }
  }
  const original = mqttPacket.writeToStream
  original.cacheNumbers = false
  const patched: WriteToStream = (packet, stream, opts) => {
    const p = packet as { cmd: string; messageId?: number; reasonCode?: unknown; properties?: unknown }
    const v5 = (opts as { protocolVersion?: number } | undefined)?.protocolVersion === 5
    if (p.cmd !== 'puback' || v5 || typeof p.messageId !== 'number' || p.reasonCode !== undefined)
      return original(packet, stream, opts)
    return stream.write(pubackBytes(p.messageId))
  }
  mqttPacket.writeToStream = patched
  mqttPacket.__foglineFastPuback = true
}
