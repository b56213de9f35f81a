import { Socket } from 'node:net'
import { type PacketClass, parseChunk } from './fast-parse.js'
import type { FastPublish } from './fast-publish.js'

/** What the fast path needs per broker: mqtt-packet's Packet class (the copy aedes loads) and the publisher. */
export interface FastPath {
  Packet: PacketClass
  publish: FastPublish
}

/**
 * Read a plain TCP client's bytes straight into one shared buffer and hand them to aedes' parser, instead of
 * through the socket's Readable stream.
 *
 * Why: under the real sensor load (one PUBLISH per TCP segment, 1,000 connections) every packet is one read.
 * For each, Node allocates a 64 KiB backing store, shrinks it, wraps it in a new ArrayBuffer and a Buffer, pushes
 * it into the Readable state, schedules `emitReadable` on the next tick, and aedes' 'readable' listener pulls it
 * out again with `read(null)` (which schedules `maybeReadMore`, another tick). Measured with bench/paced.ts:
 * Node's stream internals and the garbage collector were over half the node's CPU per reading
 * (docs/benchmarks.md). Node's own `onread: { buffer, callback }` option (net.Socket, since Node 12) reads into
 * a caller's buffer with none of that; it only exists for sockets Node creates for a caller, not for sockets a
 * server accepts. This sets the same two fields (found by their symbol descriptions on a probe socket) and
 * switches the accepted socket's handle to the user buffer (`useUserBuffer`, what `onread` calls).
 *
 * aedes' flow control is kept as it is: its `nextBatch` runs on each chunk that lands with nothing waiting (where
 * the Readable would emit 'readable') and on each handled packet, and reads what waits here instead of the
 * stream; past 16 KiB waiting (a Readable's default highWaterMark) the socket stops reading, so TCP
 * backpressure holds the client (the rate-limit throttle relies on that). EOF, errors and close stay Node's.
 *
 * Only plain TCP sockets on a Node whose Socket carries the fields; TLS and WebSocket streams keep the stream
 * path. Returns false when it did not switch (then nothing was changed).
 */

interface AedesClient {
  _parser: { parse(buf: Buffer): unknown }
  _parsingBatch: number
  _paused?: boolean
  _nextBatch: (err?: Error) => void
  emit(event: string, ...args: unknown[]): boolean
}

interface TcpHandle {
  reading: boolean
  readStart(): number
  useUserBuffer(buf: Uint8Array): void
}

const probe = Object.getOwnPropertySymbols(new Socket())
const kBuffer = probe.find((s) => s.description === 'kBuffer')
const kBufferCb = probe.find((s) => s.description === 'kBufferCb')
// one buffer for every socket: the callback copies what it keeps before the next read can land
const shared = Buffer.allocUnsafe(64 * 1024)
const HIGH_WATER = 16 * 1024

/** Whether this Node exposes what `directRead` needs (tests assert it on the supported Node). */
export const directReadSupported = kBuffer !== undefined && kBufferCb !== undefined

/**
 * One per connection, and nothing else: the read callback is one function for all sockets (Node calls it with
 * the socket as `this`), chunks wait in a list only while aedes is busy, and the parse hook is given the client
 * instead of a closure (heap per idle connection, bench/heap-per-conn.ts).
 */
class Reader {
  /** the chunk waiting, or the chunks when more than one waits */
  one: Buffer | null = null
  more: Buffer[] | null = null
  bytes = 0
  /** the last topic parsed (fast-parse.ts `TopicCache`) */
  topic: string | undefined = undefined
  constructor(
    readonly socket: Socket,
    readonly handle: TcpHandle,
    readonly client: AedesClient,
    readonly fast: FastPath,
  ) {}

  add(chunk: Buffer): void {
    if (this.one === null) this.one = chunk
    else (this.more ??= [this.one]).push(chunk)
    this.bytes += chunk.length
  }

  /** what `conn.read(null)` returns in aedes: everything waiting, as one buffer */
  take(): Buffer | null {
    const buf = this.more ? Buffer.concat(this.more, this.bytes) : this.one
    if (buf === null) return null
    this.one = null
    this.more = null
    this.bytes = 0
    if (!this.handle.reading && !this.socket.destroyed) {
      this.handle.reading = true
      this.handle.readStart()
    }
    return buf
  }

  /** aedes' nextBatch (lib/client.js), line for line, with the stream read replaced by take() */
  next(err?: Error | null): void {
    const client = this.client
    if (err) {
      client.emit('error', err)
      return
    }
    if (client._paused) return
    client._parsingBatch--
    if (client._parsingBatch <= 0) {
      client._parsingBatch = 0
      const buf = this.take()
      if (buf)
        parseChunk(client._parser as never, buf, this.fast.Packet, this.fast.publish, client as never, this)
    }
  }
}

const kReader = Symbol('fogline.reader')

/** Node's read callback for every switched socket (`this` is the socket) */
function onRead(this: Socket, nread: number, buf: Buffer): boolean {
  const r = (this as unknown as Record<symbol, Reader>)[kReader]!
  // copied: the shared buffer is overwritten by the next read, and the parser keeps slices (payloads)
  const chunk = Buffer.allocUnsafe(nread)
  buf.copy(chunk, 0, 0, nread)
  const first = r.one === null
  r.add(chunk)
  // a Readable emits 'readable' when data lands in an empty buffer: aedes calls nextBatch then
  if (first) r.client._nextBatch()
  // false stops reading (Node calls readStop); take() starts it again
  return r.bytes <= HIGH_WATER
}

export function directRead(socket: Socket, client: AedesClient, fast: FastPath): boolean {
  const handle = (socket as unknown as { _handle?: TcpHandle | null })._handle
  // TLS (TLSWrap), pipes and anything not a plain TCP handle keep the stream path
  if (!kBuffer || !kBufferCb || !handle || handle.constructor.name !== 'TCP') return false
  if (typeof handle.useUserBuffer !== 'function') return false
  const s = socket as unknown as Record<symbol, unknown>
  const r = new Reader(socket, handle, client, fast)
  // bytes the stream already buffered before the switch (none when aedes is handed the socket at accept)
  const early = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null
  if (early) r.add(early)
  socket.removeListener('readable', client._nextBatch)
  client._nextBatch = r.next.bind(r)
  s[kReader] = r
  s[kBufferCb] = onRead
  s[kBuffer] = shared
  handle.useUserBuffer(shared)
  if (r.one !== null) client._nextBatch()
  return true
}
