import { type KeyObject, verify } from 'node:crypto'
import { z } from 'zod'
import {
  canonicalJson,
  DesiredEnvelope,
  type DesiredState,
  keyIdOf,
  loadPublicKey,
  parseDesiredState,
} from './desired.js'
import { FoglineError } from './errors.js'

/**
 * Trusted signing keys with scopes and expiry (TUF-style roles, without thresholds). A node (and the cloud,
 * for what it relays) accepts a document only when a key of its set signed it, the key holds a scope for
 * every section the document changes, and the key is not past its not-after date. The set is rotated by a
 * document carrying `keys`, signed by a current key that holds every scope.
 * Lifecycle: config `desiredKeys` → resolveKeySet → verifyWithKeySet per document → (rotation) new set.
 */

/** What a key may sign: pipeline sets, anomaly models, uplink settings. */
export const KeyScope = z.enum(['pipelines', 'models', 'uplink'])
export type KeyScope = z.output<typeof KeyScope>
export const ALL_SCOPES: readonly KeyScope[] = KeyScope.options

/** epoch ms, or an ISO 8601 date-time */
const When = z.union([
  z.number().int().nonnegative(),
  z.string().refine((s) => Number.isFinite(Date.parse(s)), 'must be an ISO 8601 date-time'),
])

/**
 * One trusted key.
 * @example { publicKey: 'MCowBQYDK2VwAyEA…', scopes: ['pipelines', 'models', 'uplink'], notAfter: '2027-06-30T00:00:00Z' }
 */
export const TrustedKey = z.strictObject({
  /** keyIdOf(publicKey); checked when given */
  keyId: z.string().optional(),
  /** PEM (SPKI) or the one-line base64 of the raw 32-byte key */
  publicKey: z.string().min(1),
  scopes: z.array(KeyScope).min(1),
  /** documents signed at or after this time, or arriving after it, are refused */
  notAfter: When,
  /** who holds it, for people (e.g. "alice's laptop", "cloud model training") */
  note: z.string().max(200).optional(),
})
export type TrustedKey = z.input<typeof TrustedKey>

export const KeySet = z.array(TrustedKey).min(1)

/** A trusted key ready to verify with. */
export interface ResolvedKey {
  keyId: string
  key: KeyObject
  scopes: ReadonlySet<KeyScope>
  notAfter: number
}

/** Parse and index a key set by key id; FOG_CONFIG_INVALID naming the entry. */
export function resolveKeySet(entries: readonly unknown[], field = 'desiredKeys'): Map<string, ResolvedKey> {
  const out = new Map<string, ResolvedKey>()
  entries.forEach((raw, i) => {
    const r = TrustedKey.safeParse(raw)
    const where = { field: `${field}[${i}]` }
    if (!r.success)
      throw new FoglineError('FOG_CONFIG_INVALID', `key ${i}: ${r.error.issues[0]?.message}`, where)
    const key = loadPublicKey(r.data.publicKey)
    const keyId = keyIdOf(key)
    if (r.data.keyId !== undefined && r.data.keyId !== keyId)
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `key ${i}: keyId ${r.data.keyId} is not its key's id ${keyId}`,
        where,
      )
    const notAfter = typeof r.data.notAfter === 'number' ? r.data.notAfter : Date.parse(r.data.notAfter)
    out.set(keyId, { keyId, key, scopes: new Set(r.data.scopes), notAfter })
  })
  return out
}

/** The scopes a document needs: one per section it changes; a rotation needs all of them. */
export function scopesNeeded(
  doc: Pick<DesiredState, 'pipelines' | 'models' | 'uplink' | 'keys'>,
): KeyScope[] {
  const need = new Set<KeyScope>()
  if (doc.pipelines !== undefined) need.add('pipelines')
  if (doc.models !== undefined) need.add('models')
  if (doc.uplink !== undefined) need.add('uplink')
  // a rotation decides who may sign everything (it could drop the operator's key or add a pipelines key),
  // so only a key with every scope may sign one: a models-only key can neither escalate nor lock others out
  if (doc.keys !== undefined) for (const s of ALL_SCOPES) need.add(s)
  return ALL_SCOPES.filter((s) => need.has(s))
}

/**
 * Verify an envelope against a key set at time `now` (the verifier's injected clock): shape
 * (FOG_SIGNATURE_MISSING), key id in the set (FOG_KEY_UNKNOWN), signature (FOG_SIGNATURE_INVALID), expiry
 * (FOG_KEY_EXPIRED), schema (FOG_DESIRED_INVALID), scopes (FOG_KEY_SCOPE). The signature is checked before
 * the schema, so unsigned input never reaches the schema's error messages.
 * @example const { doc, key } = verifyWithKeySet(envelope, resolveKeySet(config.desiredKeys), clock.now())
 */
export function verifyWithKeySet(
  envelope: unknown,
  keys: ReadonlyMap<string, ResolvedKey>,
  now: number,
): { doc: DesiredState; key: ResolvedKey } {
  const e = DesiredEnvelope.safeParse(envelope)
  if (!e.success)
    throw new FoglineError(
      'FOG_SIGNATURE_MISSING',
      `not a signed desired-state envelope { doc, sig, keyId }: ${e.error.issues[0]?.message ?? 'invalid'}`,
    )
  const version = (e.data.doc as { version?: unknown }).version
  const where = { keyId: e.data.keyId, ...(typeof version === 'number' ? { version } : {}) }
  const key = keys.get(e.data.keyId)
  if (!key)
    throw new FoglineError(
      'FOG_KEY_UNKNOWN',
      `desired state refused: key ${e.data.keyId} is not trusted here (trusted: ${[...keys.keys()].join(', ') || 'none'})`,
      where,
    )
  let ok = false
  try {
    ok = verify(null, Buffer.from(canonicalJson(e.data.doc)), key.key, Buffer.from(e.data.sig, 'base64'))
  } catch {
    ok = false
  }
  if (!ok)
    throw new FoglineError(
      'FOG_SIGNATURE_INVALID',
      `desired state refused: the signature of key ${key.keyId} does not match the document (forged, tampered or corrupted)`,
      where,
    )
  const doc = parseDesiredState(e.data.doc)
  if (doc.createdAt >= key.notAfter || now >= key.notAfter)
    throw new FoglineError(
      'FOG_KEY_EXPIRED',
      `desired state refused: key ${key.keyId} expired at ${new Date(key.notAfter).toISOString()} (document signed ${new Date(doc.createdAt).toISOString()})`,
      where,
    )
  const missing = scopesNeeded(doc).filter((s) => !key.scopes.has(s))
  if (missing.length > 0)
    throw new FoglineError(
      'FOG_KEY_SCOPE',
      `desired state refused: key ${key.keyId} may sign ${[...key.scopes].join(', ')}, not ${missing.join(', ')}`,
      { ...where, scopes: missing.join(',') },
    )
  if (doc.keys !== undefined) resolveKeySet(doc.keys, 'keys')
  return { doc, key }
}
