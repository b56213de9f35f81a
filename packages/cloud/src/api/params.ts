import { isValidId, parseDuration } from '@fogline/protocol'
import { MAX_LIMIT } from '../store/index.js'
import { badRequest } from './errors.js'

type Query = Record<string, unknown>

/** Refuse query keys the route does not know, naming the key. */
export function onlyKeys(q: Query, allowed: readonly string[]): void {
  for (const k of Object.keys(q))
    if (!allowed.includes(k))
      throw badRequest(`unknown query parameter "${k}" (allowed: ${allowed.join(', ')})`, `query.${k}`)
}

function one(q: Query, key: string): string | undefined {
  const v = q[key]
  if (v === undefined) return undefined
  if (Array.isArray(v)) throw badRequest(`query parameter "${key}" is given more than once`, `query.${key}`)
  return String(v)
}

export function idParam(q: Query, key: string): string | undefined {
  const v = one(q, key)
  if (v === undefined) return undefined
  if (!isValidId(v)) throw badRequest(`${key} "${v}" must be 1-64 of [A-Za-z0-9_.:-]`, `query.${key}`)
  return v
}

export function textParam(q: Query, key: string): string | undefined {
  const v = one(q, key)
  if (v === undefined) return undefined
  if (v.length === 0 || v.length > 256) throw badRequest(`${key} must be 1-256 characters`, `query.${key}`)
  return v
}

/** epoch ms, or an ISO 8601 date-time */
export function timeParam(q: Query, key: string): number | undefined {
  const v = one(q, key)
  if (v === undefined) return undefined
  const n = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : Date.parse(v)
  if (!Number.isFinite(n))
    throw badRequest(`${key} "${v}" is not epoch milliseconds or an ISO 8601 time`, `query.${key}`)
  return n
}

/** ms, or a duration such as 1m */
export function durationParam(q: Query, key: string): number | undefined {
  const v = one(q, key)
  if (v === undefined) return undefined
  const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : parseDuration(v)
  if (!Number.isFinite(n) || n < 1)
    throw badRequest(`${key} "${v}" is not a duration (e.g. 60000 or 1m)`, `query.${key}`)
  return n
}

export function limitParam(q: Query, key = 'limit'): number | undefined {
  const v = one(q, key)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
    throw badRequest(`${key} must be an integer 1..${MAX_LIMIT}`, `query.${key}`)
  return n
}

export function checkRange(from: number | undefined, to: number | undefined): void {
  if (from !== undefined && to !== undefined && from >= to)
    throw badRequest('from must be before to', 'query.from')
}
