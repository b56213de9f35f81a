/** Kinds of broken payloads a real fleet sends; each must be dead-lettered, not crash the node. */
export const MALFORMED_KINDS = ['truncated', 'wrong-type', 'garbage', 'oversized'] as const
export type MalformedKind = (typeof MALFORMED_KINDS)[number]

const OVERSIZE = 300 * 1024

export function malformedPayload(kind: MalformedKind, ts: number, rnd: () => number): Buffer {
  switch (kind) {
    case 'truncated': {
      const s = JSON.stringify({ value: rnd() * 100, ts })
      return Buffer.from(s.slice(0, 1 + Math.floor(rnd() * (s.length - 2))))
    }
    case 'wrong-type':
      return Buffer.from(JSON.stringify({ value: 'n/a', ts: String(ts) }))
    case 'garbage': {
      const b = Buffer.allocUnsafe(8 + Math.floor(rnd() * 56))
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256)
      // never valid JSON: start with a byte JSON cannot start with
      b[0] = 0xff
      return b
    }
    case 'oversized':
      return Buffer.from(JSON.stringify({ value: 1, ts, pad: 'x'.repeat(OVERSIZE) }))
  }
}
