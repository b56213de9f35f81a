import type { FastPublish, PublishPacket } from './fast-publish.js'

/**
 * Parse the whole MQTT 3.1.1 PUBLISH packets at the start of a chunk without mqtt-packet's parser loop, then hand
 * the rest (anything else, a partial packet, anything unusual) to the parser as before.
 *
 * Why: with one PUBLISH per read (a real sensor), mqtt-packet's state machine is most of the node's allocation
 * per reading (a heap sampling profile with collected objects, docs/benchmarks.md): each `debug(...)` call builds
 * its rest-arguments array even when debugging is off (six to seven calls per packet), and its `bl` BufferList
 * copies every number it reads into a new Buffer (`readUInt8`/`readUInt16BE` go through `slice`).
 *
 * The packets made here are mqtt-packet's own `Packet` with the fields in the order its parser sets them
 * (cmd, retain, qos, dup, length, topic, payload, messageId when QoS > 0) and are emitted as 'packet' on the
 * client's parser, as the parser does. The fast path is taken only where the parser would give the same
 * packet: nothing buffered in the parser, not MQTT 5, a PUBLISH whose header, topic and packet identifier lie
 * inside the chunk, QoS 0–2, a topic of at least one byte. Everything else — including every error — is the
 * parser's. The payload is a view of the chunk (the chunk is the caller's own copy); a retained message's
 * payload is copied to its own memory, since the broker keeps it for as long as the topic is retained.
 */

interface Parser {
  _list: { length: number }
  _stateCounter: number
  error: unknown
  settings?: { protocolVersion?: number }
  parse(buf: Buffer): unknown
  emit(event: 'packet', packet: unknown): boolean
}

export type PacketClass = new () => PublishPacket

/** Per connection: the last topic decoded, when it is all ASCII (then its bytes are its char codes). */
export interface TopicCache {
  topic: string | undefined
}

/**
 * The topic of the bytes `chunk[start, start + len)`: the cached string when they are its bytes, else newly
 * decoded (and cached when all ASCII). A sensor publishes to one topic again and again; handing on the same
 * string saves its decoding and allocation, and every later lookup by it (the ACL's last-topic check, the
 * engine's topic map, the per-sensor state maps) finds its hash already computed and compares by identity.
 */
export function topicOf(chunk: Buffer, start: number, len: number, cache: TopicCache | undefined): string {
  const last = cache?.topic
  if (last !== undefined && last.length === len) {
    let i = 0
    while (i < len && chunk[start + i] === last.charCodeAt(i)) i++
    if (i === len) return last
  }
  const topic = chunk.toString('utf8', start, start + len)
  if (cache !== undefined) {
    // only an ASCII topic is cached: a byte compare against a string with other characters proves nothing
    let ascii = topic.length === len
    for (let i = 0; ascii && i < len; i++) ascii = topic.charCodeAt(i) < 0x80
    cache.topic = ascii ? topic : undefined
  }
  return topic
}

/**
 * `fast(client, packet)` takes a parsed PUBLISH first (fast-publish.ts); when it returns false the parser emits
 * it. `topics`: the connection's topic cache (`topicOf`).
 */
export function parseChunk(
  parser: Parser,
  chunk: Buffer,
  Packet: PacketClass,
  fast?: FastPublish,
  client?: Parameters<FastPublish>[0],
  topics?: TopicCache,
): void {
  const n = chunk.length
  let off = 0
  if (
    parser._list.length === 0 &&
    parser._stateCounter === 0 &&
    !parser.error &&
    parser.settings?.protocolVersion !== 5
  ) {
    while (off < n) {
      const b0 = chunk[off]!
      // PUBLISH is type 3; QoS 3 is an error the parser reports
      if (b0 >> 4 !== 3 || ((b0 >> 1) & 3) === 3) break
      // remaining length: 1 to 4 bytes, 7 bits each [MQTT-2.2.3]
      let len = 0
      let mul = 1
      let p = off + 1
      let done = false
      while (p < n && p < off + 5) {
        const c = chunk[p++]!
        len += (c & 0x7f) * mul
        mul *= 0x80
        if ((c & 0x80) === 0) {
          done = true
          break
        }
      }
      const end = p + len
      if (!done || end > n) break
      const topicLen = (chunk[p]! << 8) | chunk[p + 1]!
      const topicEnd = p + 2 + topicLen
      const qos = (b0 >> 1) & 3
      const idEnd = qos > 0 ? topicEnd + 2 : topicEnd
      // too short for its topic (or packet id) is the parser's error to report
      if (topicLen === 0 || idEnd > end) break
      const packet = new Packet()
      packet.cmd = 'publish'
      packet.retain = (b0 & 1) !== 0
      packet.qos = qos
      packet.dup = (b0 & 8) !== 0
      packet.length = len
      packet.topic = topicOf(chunk, p + 2, topicLen, topics)
      if (packet.retain) {
        const own = Buffer.allocUnsafeSlow(end - idEnd)
        chunk.copy(own, 0, idEnd, end)
        packet.payload = own
      } else packet.payload = chunk.subarray(idEnd, end)
      if (qos > 0) packet.messageId = (chunk[topicEnd]! << 8) | chunk[topicEnd + 1]!
      off = end
      if (!(fast && client && fast(client, packet))) parser.emit('packet', packet)
    }
  }
  if (off < n) parser.parse(off === 0 ? chunk : chunk.subarray(off))
}
