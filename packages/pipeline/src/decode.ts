import type { DecoderConfig, Reading } from '@fogline/protocol'
import { unpack } from 'msgpackr'
import { type FlatOut, scanFlat } from './fastjson.js'
import { compilePath, getPath, type PathKeys, topicSegmentIndex } from './paths.js'

/**
 * Fills a reading from one MQTT message. Returns undefined on success or the reason it failed.
 * Decoders: `json` (a bare number or an object with field paths), `text` (a plain number), `msgpack` (like json).
 */
export type Decode = (
  segments: readonly string[],
  payload: Buffer,
  now: number,
  out: Reading,
) => string | undefined

/** A source of sensorId/metric: a topic segment or a payload path. */
type Source = { seg: number; keys?: undefined } | { seg?: undefined; keys: PathKeys }

function source(s: string): Source | undefined {
  const seg = topicSegmentIndex(s)
  if (seg !== undefined) return { seg }
  const keys = compilePath(s)
  return keys ? { keys } : undefined
}

/** Config errors of a decoder (path → message), checked at validation. */
export function checkDecoder(c: DecoderConfig): Array<[string, string]> {
  const errs: Array<[string, string]> = []
  if (!compilePath(c.value)) errs.push(['value', `"${c.value}" is not a field path (e.g. $.value)`])
  if (c.ts !== undefined && !compilePath(c.ts)) errs.push(['ts', `"${c.ts}" is not a field path (e.g. $.ts)`])
  for (const k of ['sensorId', 'metric'] as const)
    if (!source(c[k]))
      errs.push([k, `"${c[k]}" is neither a topic segment (topic[1]) nor a field path ($.id)`])
  for (const [name, p] of Object.entries(c.fields ?? {}))
    if (!compilePath(p)) errs.push([`fields.${name}`, `"${p}" is not a field path`])
  return errs
}

function str(src: Source, segments: readonly string[], obj: unknown): string | undefined {
  if (src.seg !== undefined) return segments[src.seg]
  const v = getPath(obj, src.keys)
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined
}

function toTs(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'string') return Date.parse(v)
  return Number.NaN
}

/** A decoder config with its paths compiled once. */
interface Compiled {
  c: DecoderConfig
  valueKeys: PathKeys
  tsKeys: PathKeys | undefined
  sid: Source
  met: Source
  extra: ReadonlyArray<readonly [string, PathKeys]>
  /** sensorId or metric come from the payload, so a bare number cannot carry them */
  needsObj: boolean
}

type Fill = (segments: readonly string[], v: unknown, now: number, out: Reading) => string | undefined

/** The payload's time at the ts path, `now` when absent, or the reason it is not a time. */
function readTs(k: Compiled, v: object, now: number): number | string {
  if (!k.tsKeys) return now
  const t = getPath(v, k.tsKeys)
  if (t === undefined) return now
  const ts = toTs(t)
  return Number.isFinite(ts) ? ts : `ts at ${k.c.ts} is not a time: ${JSON.stringify(t)?.slice(0, 40)}`
}

/** The shared tail of every decoder: a payload value (number or object) → reading. */
function makeFill(k: Compiled): Fill {
  const { c, valueKeys, sid, met, extra } = k
  return (segments, v, now, out) => {
    let value: unknown
    let ts = now
    if (typeof v === 'number') {
      // a bare number carries no ts (arrival time is used) and no ids
      if (k.needsObj) return 'a bare number payload has no fields for sensorId/metric'
      value = v
    } else if (v !== null && typeof v === 'object') {
      value = getPath(v, valueKeys)
      const t = readTs(k, v, now)
      if (typeof t === 'string') return t
      ts = t
    } else return `payload is neither a number nor an object`
    if (typeof value !== 'number' || !Number.isFinite(value))
      return value === undefined ? `no value at ${c.value}` : `value at ${c.value} is not a finite number`
    const sensorId = str(sid, segments, v)
    const metric = str(met, segments, v)
    if (!sensorId) return `no sensorId at ${c.sensorId}`
    if (!metric) return `no metric at ${c.metric}`
    out.sensorId = sensorId
    out.metric = metric
    out.value = value
    out.ts = ts
    if (extra.length > 0) {
      const fields: Record<string, unknown> = {}
      for (const [name, keys] of extra) fields[name] = getPath(v, keys)
      out.fields = fields
    } else if (out.fields !== undefined) delete out.fields
    return undefined
  }
}

function textDecoder(k: Compiled, fill: Fill): Decode {
  return (segments, payload, now, out) => {
    const s = payload.toString('utf8').trim()
    const v = s === '' ? Number.NaN : Number(s)
    if (!Number.isFinite(v)) return `payload is not a number: ${JSON.stringify(s.slice(0, 40))}`
    if (k.needsObj) return 'a text payload has no fields for sensorId/metric'
    return fill(segments, v, now, out)
  }
}

function msgpackDecoder(fill: Fill): Decode {
  return (segments, payload, now, out) => {
    let v: unknown
    try {
      v = unpack(payload)
    } catch (e) {
      return `payload is not msgpack: ${(e as Error).message.slice(0, 80)}`
    }
    return fill(segments, v, now, out)
  }
}

function jsonDecoder(fill: Fill): Decode {
  return (segments, payload, now, out) => {
    let v: unknown
    try {
      v = JSON.parse(payload.toString('utf8'))
    } catch (e) {
      return `payload is not JSON: ${(e as Error).message.slice(0, 80)}`
    }
    return fill(segments, v, now, out)
  }
}

/**
 * The byte-level fast path for JSON: top-level value/ts keys with ids from the topic (the common case);
 * anything it cannot read goes to `slow`. Undefined when the config is not that shape.
 */
function fastJsonDecoder(k: Compiled, slow: Decode): Decode | undefined {
  const { c, valueKeys, tsKeys, sid, met } = k
  const v0 = valueKeys[0]
  const t0 = tsKeys?.[0]
  const fast =
    valueKeys.length === 1 &&
    typeof v0 === 'string' &&
    (tsKeys === undefined || (tsKeys.length === 1 && typeof t0 === 'string')) &&
    sid.seg !== undefined &&
    met.seg !== undefined &&
    k.extra.length === 0
  if (!fast) return undefined
  const keys = { value: Buffer.from(v0), ts: typeof t0 === 'string' ? Buffer.from(t0) : undefined }
  const sseg = sid.seg
  const mseg = met.seg
  // one result holder per decoder: no object per message
  const flat: FlatOut = { value: 0, ts: 0, hasValue: false, hasTs: false }
  return (segments, payload, now, out) => {
    if (
      !scanFlat(payload, keys, flat) ||
      !flat.hasValue ||
      !Number.isFinite(flat.value) ||
      (flat.hasTs && !Number.isFinite(flat.ts))
    )
      return slow(segments, payload, now, out)
    const sensorId = segments[sseg]
    const metric = segments[mseg]
    if (!sensorId) return `no sensorId at ${c.sensorId}`
    if (!metric) return `no metric at ${c.metric}`
    out.sensorId = sensorId
    out.metric = metric
    out.value = flat.value
    out.ts = flat.hasTs ? flat.ts : now
    if (out.fields !== undefined) delete out.fields
    return undefined
  }
}

/** Compile a validated decoder config into the function that fills a reading from one message. */
export function compileDecoder(c: DecoderConfig): Decode {
  const sid = source(c.sensorId)!
  const met = source(c.metric)!
  const k: Compiled = {
    c,
    valueKeys: compilePath(c.value)!,
    tsKeys: c.ts !== undefined ? compilePath(c.ts) : undefined,
    sid,
    met,
    extra: Object.entries(c.fields ?? {}).map(([name, p]) => [name, compilePath(p)!] as const),
    needsObj: sid.keys !== undefined || met.keys !== undefined,
  }
  const fill = makeFill(k)
  if (c.type === 'text') return textDecoder(k, fill)
  if (c.type === 'msgpack') return msgpackDecoder(fill)
  const slow = jsonDecoder(fill)
  return fastJsonDecoder(k, slow) ?? slow
}
