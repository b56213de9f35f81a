/**
 * A fast path for the payloads sensors actually send: a bare JSON number or a flat JSON object such as
 * {"value":21.5,"ts":1732838400000}. It reads the wanted top-level keys straight from the bytes, without
 * building a string or an object (JSON.parse of the whole payload was 40 % of the pipeline's time).
 * Anything else — nesting, escapes, string values for wanted keys, a number it cannot convert exactly — makes
 * it give up (return false), and the caller falls back to JSON.parse, which also words the error for a bad payload.
 */
const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
]

export interface FlatOut {
  value: number
  ts: number
  hasValue: boolean
  hasTs: boolean
}

/** The keys to look for, as bytes. */
export interface FlatKeys {
  value: Buffer
  ts: Buffer | undefined
}

let numEnd = 0

/** parse a JSON number at i; sets numEnd; NaN when it is not one or cannot be converted exactly here */
function num(b: Buffer, i: number, n: number): number {
  const start = i
  let neg = false
  if (b[i] === 0x2d) {
    neg = true
    i++
  }
  let m = 0
  let digits = 0
  const first = i
  while (i < n) {
    const c = b[i]! - 0x30
    if (c < 0 || c > 9) break
    m = m * 10 + c
    digits++
    i++
  }
  if (digits === 0 || (b[first] === 0x30 && digits > 1)) return Number.NaN
  let frac = 0
  if (b[i] === 0x2e) {
    i++
    while (i < n) {
      const c = b[i]! - 0x30
      if (c < 0 || c > 9) break
      m = m * 10 + c
      digits++
      frac++
      i++
    }
    if (frac === 0) return Number.NaN
  }
  const c = b[i]
  if (c === 0x65 || c === 0x45) {
    // exponent: rare in sensor payloads; let the engine's own conversion do it exactly
    i++
    if (b[i] === 0x2b || b[i] === 0x2d) i++
    const e0 = i
    while (i < n && b[i]! >= 0x30 && b[i]! <= 0x39) i++
    if (i === e0) return Number.NaN
    numEnd = i
    return Number(b.toString('latin1', start, i))
  }
  numEnd = i
  // Clinger's fast path: ≤ 15 digits is an exact integer and 10^frac ≤ 10^22 is exact, so one division is correctly rounded
  if (digits <= 15) {
    const v = m / POW10[frac]!
    return neg ? -v : v
  }
  return Number(b.toString('latin1', start, i))
}

function ws(b: Buffer, i: number, n: number): number {
  while (i < n) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
    i++
  }
  return i
}

function keyIs(b: Buffer, s: number, e: number, k: Buffer): boolean {
  if (e - s !== k.length) return false
  for (let j = 0; j < k.length; j++) if (b[s + j] !== k[j]) return false
  return true
}

/** true when it read the payload completely (out filled); false: use JSON.parse */
export function scanFlat(b: Buffer, keys: FlatKeys, out: FlatOut): boolean {
  const n = b.length
  out.hasValue = out.hasTs = false
  let i = ws(b, 0, n)
  const c0 = b[i]
  if (c0 === 0x2d || (c0 !== undefined && c0 >= 0x30 && c0 <= 0x39)) {
    const v = num(b, i, n)
    if (Number.isNaN(v) || ws(b, numEnd, n) !== n) return false
    out.value = v
    out.hasValue = true
    return true
  }
  if (c0 !== 0x7b) return false
  i = ws(b, i + 1, n)
  if (b[i] === 0x7d) return ws(b, i + 1, n) === n
  for (;;) {
    if (b[i] !== 0x22) return false
    const ks = ++i
    while (i < n && b[i] !== 0x22) {
      if (b[i] === 0x5c) return false
      i++
    }
    if (i >= n) return false
    const ke = i
    i = ws(b, i + 1, n)
    if (b[i] !== 0x3a) return false
    i = ws(b, i + 1, n)
    const c = b[i]
    const isValue = keyIs(b, ks, ke, keys.value)
    const isTs = keys.ts !== undefined && keyIs(b, ks, ke, keys.ts)
    if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) {
      const v = num(b, i, n)
      if (Number.isNaN(v)) return false
      i = numEnd
      if (isValue) {
        out.value = v
        out.hasValue = true
      } else if (isTs) {
        out.ts = v
        out.hasTs = true
      }
    } else if (isValue || isTs) {
      return false // a wanted key with a non-number: the slow path decides and words the error
    } else if (c === 0x22) {
      i++
      while (i < n && b[i] !== 0x22) {
        if (b[i] === 0x5c) return false
        i++
      }
      if (i >= n) return false
      i++
    } else if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) i += 4
    else if (c === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65)
      i += 5
    else if (c === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) i += 4
    else return false
    i = ws(b, i, n)
    if (b[i] === 0x2c) {
      i = ws(b, i + 1, n)
      continue
    }
    if (b[i] === 0x7d) return ws(b, i + 1, n) === n
    return false
  }
}
