import type { Socket } from 'node:net'
import { getSystemErrorName } from 'node:util'
import { pubackBytes, putPuback } from './fast.js'

/**
 * Write a small buffer to a plain TCP socket straight through its libuv handle, not through the socket's
 * Writable stream.
 *
 * Why: under the real sensor load at QoS 1 every reading costs one 4-byte PUBACK write. Through the stream,
 * each goes Writable.write → writeOrBuffer → Socket._writeGeneric → a new WriteWrap request object → the
 * handle's `writeBuffer` → the stream's bound `onwrite` → a `process.nextTick` for `afterWrite`, and the PUBACK
 * is a new 4-byte Buffer. The kernel takes a 4-byte write at once, so all of that is bookkeeping for a write that
 * is already done (a perf profile of the node at QoS 1: docs/benchmarks.md). Here the handle's `writeBuffer`
 * (what the stream ends in) is called with one request object that is reused while writes complete at once.
 *
 * Order and backpressure stay the stream's: the direct write is taken only when nothing waits, neither in the
 * Writable (`writableLength`) nor in libuv's queue (`writeQueueSize`); anything else goes through `write()`.
 * A write the kernel could not take whole is queued by libuv behind nothing (so in order); its request and
 * buffer are then libuv's, new ones are made, and a failure destroys the socket as the stream would. An error
 * at once (a reset peer) is left to `write()`, which meets it again and handles it the stream's way.
 *
 * Needs Node's `stream_wrap` binding (`process.binding`, which Node 20 still allows for it) and a TCP handle;
 * without either, `write()`. TLS and WebSocket streams always take `write()`.
 */

interface WriteReq {
  oncomplete?: (this: WriteReq, status: number) => void
  socket?: Socket | null
  buffer?: Buffer | null
}

interface StreamWrap {
  WriteWrap: new () => WriteReq
  streamBaseState: Int32Array
  kLastWriteWasAsync: number
}

interface TcpHandle {
  writeBuffer(req: WriteReq, buf: Buffer): number
  writeQueueSize: number
}

function load(): { sw: StreamWrap; TCP: abstract new (...a: never[]) => object } | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding
    const sw = binding('stream_wrap') as unknown as StreamWrap
    const tcp = binding('tcp_wrap') as { TCP?: abstract new (...a: never[]) => object }
    if (
      typeof sw.WriteWrap !== 'function' ||
      !(sw.streamBaseState instanceof Int32Array) ||
      typeof sw.kLastWriteWasAsync !== 'number' ||
      typeof tcp.TCP !== 'function'
    )
      return undefined
    return { sw, TCP: tcp.TCP }
  } catch {
    return undefined
  }
}

const native = load()

/** Whether this Node has what the direct write needs (a test asserts it on the supported Node). */
export const directWriteSupported = native !== undefined

/** Writes taken directly (`direct`), of them left to libuv's queue (`queued`), and given to `write()` (`stream`). */
export const directWriteStats = { direct: 0, queued: 0, stream: 0 }

/** the request object for writes that complete at once; replaced when libuv keeps one */
let req: WriteReq | undefined = native ? new native.sw.WriteWrap() : undefined
/** the PUBACK buffer, reused while writes complete at once; replaced when libuv keeps it */
let puback = Buffer.allocUnsafe(4)

function onQueuedDone(this: WriteReq, status: number): void {
  const s = this.socket
  this.socket = null
  this.buffer = null
  if (status < 0 && s && !s.destroyed) {
    const name = getSystemErrorName(status)
    s.destroy(Object.assign(new Error(`write ${name}`), { code: name, errno: status, syscall: 'write' }))
  }
}

/** the socket's TCP handle when a direct write may go now (nothing waits in front of it), else undefined */
function directHandle(stream: NodeJS.WritableStream): TcpHandle | undefined {
  if (native === undefined) return undefined
  const s = stream as Socket & { _handle?: TcpHandle | null }
  const h = s._handle
  if (
    h == null ||
    !(h instanceof native.TCP) ||
    s.writableLength !== 0 ||
    h.writeQueueSize !== 0 ||
    // false once destroyed, errored or ended too
    !s.writable
  )
    return undefined
  return h
}

/** write `buf` now through the handle; false when it must go through `write()` instead */
function tryDirect(stream: NodeJS.WritableStream, h: TcpHandle, buf: Buffer): boolean {
  const r = req!
  if (h.writeBuffer(r, buf) !== 0) return false
  directWriteStats.direct++
  if (native!.sw.streamBaseState[native!.sw.kLastWriteWasAsync] !== 0) {
    // the kernel did not take it whole: libuv holds the rest, with this request and buffer, until it is written
    directWriteStats.queued++
    r.socket = stream as Socket
    r.buffer = buf
    r.oncomplete = onQueuedDone
    req = new native!.sw.WriteWrap()
    if (buf === puback) puback = Buffer.allocUnsafe(4)
  }
  return true
}

/**
 * Write `buf` (which the caller does not change afterwards) to `stream`: directly when it is a plain TCP socket
 * with nothing waiting, else with `stream.write`. Returns what `write()` would: false asks the caller to wait for
 * 'drain' (a direct write never does: it only goes when nothing waits).
 * @example if (!writeDirect(socket, frame)) socket.once('drain', next)
 */
export function writeDirect(stream: NodeJS.WritableStream, buf: Buffer): boolean {
  const h = directHandle(stream)
  if (h !== undefined && tryDirect(stream, h, buf)) return true
  directWriteStats.stream++
  return stream.write(buf)
}

/**
 * Write an MQTT 3.1.1 PUBACK (40 02 <id>) to `stream`, directly when it can (see writeDirect).
 * @example if (!writePuback(client.conn, packet.messageId)) client.waitForDrain(next)
 */
export function writePuback(stream: NodeJS.WritableStream, messageId: number): boolean {
  const h = directHandle(stream)
  if (h !== undefined && tryDirect(stream, h, putPuback(puback, messageId))) return true
  directWriteStats.stream++
  return stream.write(pubackBytes(messageId))
}
