import { z } from 'zod'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parse '250ms', '10s', '1m', '2h', '1d' or a number of ms. Returns NaN when it does not parse. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)\s*$/.exec(v)
  if (!m) return Number.NaN
  return Number(m[1]) * UNITS[m[2]!]!
}

/** A duration in config: '10s' or a number of milliseconds; parsed to ms. */
export const Duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v)
  if (!Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not a duration (use e.g. 500ms, 10s, 1m, 2h or a number of ms)`,
    })
    return z.NEVER
  }
  return ms
})

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
}

/** A byte size in config: '64MiB', '512kb' or a number of bytes. */
export const ByteSize = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(v)
  const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || !mult) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not a size (use e.g. 512KiB, 64MiB or a number of bytes)`,
    })
    return z.NEVER
  }
  return Math.round(Number(m[1]) * mult)
})

export const Id = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_.:-]')
