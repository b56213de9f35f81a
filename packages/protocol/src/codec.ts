import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { Packr } from 'msgpackr'
import { FoglineError } from './errors.js'
import type { Ack, Batch } from './records.js'

/**
 * Wire framing: [version u8][flags u8][body]. Version 1 body is msgpack, raw-deflated when
 * flags bit 0 is set. Unknown versions are refused with FOG_CODEC_VERSION so an old node
 * never guesses at a newer format.
 */
export const CODEC_VERSION = 1
export const FLAG_DEFLATE = 0b0000_0001
const HEADER = 2

/**
 * The project's one MessagePack encoder: plain maps (no record extension), so that any msgpack decoder (Python,
 * Go) can read what it writes. Use `pack` to encode, `msgpack.unpack` to decode.
 */
export const msgpack = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })
/** msgpackr's first pack buffer */
const PACK_BUFFER = 8192

/**
 * `msgpack.pack`, releasing msgpackr's pack buffer after a large value. msgpackr packs into one buffer shared by
 * every Packr of the process, which grows to 4x the largest value packed and never shrinks (660 KB after a
 * 1,000-sensor checkpoint), and every value packed later is a view of it that keeps it alive; when this value
 * left it grown, msgpackr gets a small one again (`Packr.useBuffer`; the value keeps the big one only while it
 * lives; docs/decisions.md).
 */
export function pack(value: unknown): Buffer {
  const packed = msgpack.pack(value)
  if (packed.buffer.byteLength > PACK_BUFFER) msgpack.useBuffer(Buffer.allocUnsafeSlow(PACK_BUFFER))
  return packed
}

export interface EncodeOptions {
  /** 'auto' deflates when the body is at least `minDeflateBytes` and deflating saves >= 10 % */
  deflate?: boolean | 'auto'
  minDeflateBytes?: number
  /** zlib level (zlib's default when unset) */
  level?: number
}

/** Encode any message (batch, ack, desired, reported, heartbeat). */
export function encodeMessage(value: unknown, opts: EncodeOptions = {}): Buffer {
  return frameBody(pack(value), opts)
}

/** Frame a body that is already msgpack: the header, and the body deflated when `opts` say so and it pays. */
export function frameBody(body: Buffer, opts: EncodeOptions = {}): Buffer {
  const mode = opts.deflate ?? 'auto'
  let flags = 0
  let out: Uint8Array = body
  if (mode === true || (mode === 'auto' && body.length >= (opts.minDeflateBytes ?? 256))) {
    const z = deflateRawSync(body, { level: opts.level })
    if (mode === true || z.length <= body.length * 0.9) {
      out = z
      flags |= FLAG_DEFLATE
    }
  }
  const buf = Buffer.allocUnsafe(HEADER + out.length)
  buf[0] = CODEC_VERSION
  buf[1] = flags
  buf.set(out, HEADER)
  return buf
}

/** Decode a framed message; throws FOG_CODEC_VERSION or FOG_CODEC_MALFORMED. */
export function decodeMessage(buf: Uint8Array, where: { topic?: string } = {}): unknown {
  if (buf.length < HEADER + 1)
    throw new FoglineError('FOG_CODEC_MALFORMED', `message of ${buf.length} bytes is too short`, where)
  const version = buf[0]
  if (version !== CODEC_VERSION)
    throw new FoglineError(
      'FOG_CODEC_VERSION',
      `codec version ${version} is not supported (this build speaks ${CODEC_VERSION})`,
      where,
    )
  const flags = buf[1]!
  if (flags & ~FLAG_DEFLATE)
    throw new FoglineError('FOG_CODEC_MALFORMED', `unknown codec flags 0x${flags.toString(16)}`, where)
  try {
    let body = buf.subarray(HEADER)
    if (flags & FLAG_DEFLATE) body = inflateRawSync(body, { maxOutputLength: 64 * 1024 * 1024 })
    return msgpack.unpack(body)
  } catch (cause) {
    throw new FoglineError(
      'FOG_CODEC_MALFORMED',
      `message body does not decode: ${(cause as Error).message}`,
      where,
      { cause },
    )
  }
}

export function encodeBatch(batch: Batch, opts?: EncodeOptions): Buffer {
  return encodeMessage(batch, opts)
}

/** Decode and check the shape of a batch (ids, ascending integer seqs). */
export function decodeBatch(buf: Uint8Array, where: { topic?: string } = {}): Batch {
  const v = decodeMessage(buf, where) as Partial<Batch> | null
  const bad = (m: string) => new FoglineError('FOG_BATCH_INVALID', m, where)
  if (!v || typeof v !== 'object') throw bad('batch is not a map')
  if (typeof v.nodeId !== 'string' || typeof v.stream !== 'string' || typeof v.batchId !== 'string')
    throw bad('batch needs string nodeId, stream and batchId')
  if (!Array.isArray(v.records)) throw bad('batch.records must be an array')
  let prev = -1
  for (const [i, r] of v.records.entries()) {
    if (!r || typeof r !== 'object' || !Number.isSafeInteger(r.seq) || r.seq < 0)
      throw bad(`records[${i}].seq must be a non-negative integer`)
    if (r.seq <= prev) throw bad(`records[${i}].seq ${r.seq} is not ascending`)
    if (typeof r.ts !== 'number') throw bad(`records[${i}].ts must be a number`)
    if (!r.body || typeof r.body !== 'object') throw bad(`records[${i}].body must be a map`)
    prev = r.seq
  }
  return v as Batch
}

export function encodeAck(ack: Ack): Buffer {
  return encodeMessage(ack, { deflate: false })
}

export function decodeAck(buf: Uint8Array, where: { topic?: string } = {}): Ack {
  const v = decodeMessage(buf, where) as Partial<Ack> | null
  if (!v || typeof v.stream !== 'string' || typeof v.batchId !== 'string' || !Array.isArray(v.ranges))
    throw new FoglineError('FOG_CODEC_MALFORMED', 'ack needs stream, batchId and ranges', where)
  return v as Ack
}
