import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import { z } from 'zod'
import { ByteSize, Duration, Id } from './config/common.js'
import { FoglineError } from './errors.js'

/**
 * Desired state: a versioned document the cloud signs with Ed25519 and a node verifies, applies atomically,
 * and reports on. Lifecycle: build doc → signDesired → publish (retained) → verifyDesired → apply → report.
 * Versions come from one counter per cloud, shared by node and group documents, so "higher wins" is "newer wins".
 */

/** Who a document is for: one node, or every node of a group. */
export const DesiredTarget = z.union([z.strictObject({ node: Id }), z.strictObject({ group: Id })])
export type DesiredTarget = z.output<typeof DesiredTarget>

/**
 * Uplink settings a document may change (a subset of UplinkConfig; endpoints and credentials stay local,
 * so a bad document cannot cut a node off its cloud). Values are in config form ('20ms', '256KiB').
 */
export const DesiredUplink = z.strictObject({
  batchMaxRecords: z.number().int().positive().optional(),
  batchMaxBytes: ByteSize.optional(),
  linger: Duration.optional(),
  ackTimeout: Duration.optional(),
  maxInFlight: z.number().int().positive().optional(),
  backlogWindow: z.number().int().positive().optional(),
  backlogAckTarget: Duration.optional(),
  deflate: z.union([z.boolean(), z.literal('auto')]).optional(),
  deflateLevel: z.number().int().min(1).max(9).optional(),
  heartbeat: Duration.optional(),
  drainRate: z.number().nonnegative().optional(),
})
export type DesiredUplink = z.output<typeof DesiredUplink>

/**
 * The content part of a document, as a `fogline push --file` YAML holds it (the cloud adds version,
 * target and createdAt). Values are kept as written; the cloud and the node check them further.
 */
export const DesiredContent = z.strictObject({
  pipelines: z.array(z.unknown()).optional(),
  models: z.record(z.string(), z.unknown()).optional(),
  uplink: z.record(z.string(), z.unknown()).optional(),
  /** a rotation: the node's whole new trusted key set (keyset.ts), signed by a key of the current one */
  keys: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
  /** free text for people (what changed and why) */
  note: z.string().max(1000).optional(),
})
export type DesiredContent = z.output<typeof DesiredContent>

/**
 * The document. `pipelines` is checked by @fogline/pipeline on the node (each stage owns its schema);
 * `models` holds anomaly-model parameters by name.
 * @example { version: 7, target: { group: 'line-1' }, createdAt: 1764374400000, pipelines: [...] }
 */
export const DesiredState = z.strictObject({
  version: z.number().int().positive(),
  target: DesiredTarget,
  /** epoch ms on the cloud's clock */
  createdAt: z.number().int().nonnegative(),
  /** set on a document that deliberately restores older content; see docs/desired-state.md */
  rollback: z.boolean().optional(),
  /** apply at once, even outside the node's maintenance window (ops.maintenance) */
  urgent: z.boolean().optional(),
  ...DesiredContent.shape,
})
export type DesiredState = z.output<typeof DesiredState>

/** What travels on `…/down/desired`: the document, its signature and the id of the key that made it. */
export const DesiredEnvelope = z.strictObject({
  doc: z.record(z.string(), z.unknown()),
  /** base64 Ed25519 signature over canonicalJson(doc) */
  sig: z.string().min(1),
  /** keyIdOf(public key) of the signer */
  keyId: z.string().min(1),
})
export type DesiredEnvelope = z.output<typeof DesiredEnvelope>

/** What a node reports on `…/up/reported` about a document. */
export interface DesiredReport {
  version: number
  /** 'pending': verified, waiting for the node's maintenance window (`pendingUntil`) */
  status: 'applied' | 'rejected' | 'rolled-back' | 'pending'
  /** for 'pending': when the maintenance window opens (epoch ms) */
  pendingUntil?: number | null
  /** for 'applied': 'pending' while the health window runs, 'ok' once it passed */
  health?: 'pending' | 'ok'
  reason?: string
  code?: string
  /** the version running after this report (the last good one after a rejection or roll-back) */
  appliedVersion?: number | null
  target?: DesiredTarget
  ts: number
}

/**
 * JSON with object keys sorted at every level and no whitespace, so signer and verifier hash the same bytes.
 * `undefined` members are left out (as JSON.stringify does); non-finite numbers are refused.
 * @example canonicalJson({ b: 1, a: [2, { d: 1, c: 0 }] }) === '{"a":[2,{"c":0,"d":1}],"b":1}'
 */
export function canonicalJson(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'number') {
    if (!Number.isFinite(v))
      throw new FoglineError('FOG_DESIRED_INVALID', `a desired-state document cannot hold the number ${v}`)
    return JSON.stringify(v)
  }
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
  }
  throw new FoglineError('FOG_DESIRED_INVALID', `a desired-state document cannot hold a ${typeof v}`)
}

/** sha256 of the canonical document, hex: identifies one exact document (dedupe of retained redeliveries). */
export function desiredDigest(doc: unknown): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex')
}

export type KeyInput = string | Buffer | KeyObject

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it (RFC 8410)
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/**
 * Public key from PEM (SPKI), base64 of the raw 32-byte key, base64 DER, or a KeyObject.
 * @example loadPublicKey(readFileSync('fogline-desired.pub.pem', 'utf8'))
 */
export function loadPublicKey(key: KeyInput): KeyObject {
  try {
    let k: KeyObject
    if (typeof key === 'object' && !Buffer.isBuffer(key))
      k = key.type === 'private' ? createPublicKey(key) : key
    else {
      const s = Buffer.isBuffer(key) ? key.toString('utf8') : key
      if (s.includes('-----BEGIN')) {
        k = s.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(s)) : createPublicKey(s)
      } else {
        const raw = Buffer.from(s.trim(), 'base64')
        const der = raw.length === 32 ? Buffer.concat([SPKI_PREFIX, raw]) : raw
        k = createPublicKey({ key: der, format: 'der', type: 'spki' })
      }
    }
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`an ${k.asymmetricKeyType} key, not ed25519`)
    return k
  } catch (cause) {
    throw new FoglineError(
      'FOG_CONFIG_INVALID',
      `the desired-state public key is not a usable Ed25519 key (${(cause as Error).message})`,
      { field: 'desiredPublicKey' },
      { cause },
    )
  }
}

/** Private key from PEM (PKCS#8) or a KeyObject. */
export function loadPrivateKey(key: KeyInput): KeyObject {
  try {
    const k = typeof key === 'object' && !Buffer.isBuffer(key) ? key : createPrivateKey(key)
    if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519')
      throw new Error('not an Ed25519 private key')
    return k
  } catch (cause) {
    throw new FoglineError(
      'FOG_CONFIG_INVALID',
      `the signing key is not an Ed25519 private key in PEM (${(cause as Error).message})`,
      { field: 'signingKeyFile' },
      { cause },
    )
  }
}

/** The raw 32-byte public key, base64: the short form a node config may hold. */
export function publicKeyRaw(key: KeyInput): string {
  const der = loadPublicKey(key).export({ format: 'der', type: 'spki' })
  return der.subarray(SPKI_PREFIX.length).toString('base64')
}

/** Key id: first 16 hex digits of sha256 over the raw public key. */
export function keyIdOf(key: KeyInput): string {
  return createHash('sha256')
    .update(Buffer.from(publicKeyRaw(key), 'base64'))
    .digest('hex')
    .slice(0, 16)
}

/**
 * A fresh Ed25519 key pair as PEM, with the raw base64 public key and its key id.
 * @example const { privateKeyPem, publicKeyPem } = generateDesiredKeyPair()
 */
export function generateDesiredKeyPair(): {
  privateKeyPem: string
  publicKeyPem: string
  publicKeyRaw: string
  keyId: string
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicKeyRaw: publicKeyRaw(publicKey),
    keyId: keyIdOf(publicKey),
  }
}

/** Validate a document; FOG_DESIRED_INVALID naming the field. */
export function parseDesiredState(raw: unknown): DesiredState {
  const r = DesiredState.safeParse(raw)
  if (r.success) {
    if (r.data.uplink !== undefined) {
      const u = DesiredUplink.safeParse(r.data.uplink)
      if (!u.success) throw zodToDesired(u.error, 'uplink')
    }
    return r.data
  }
  throw zodToDesired(r.error)
}

function zodToDesired(err: z.ZodError, prefix?: string): FoglineError {
  const issue = err.issues[0]
  const path = [...(prefix ? [prefix] : []), ...(issue?.path ?? [])]
  const field = path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[')
  return new FoglineError(
    'FOG_DESIRED_INVALID',
    `desired state ${field || 'document'}: ${issue?.message ?? 'invalid'}`,
    field ? { field } : {},
  )
}

/**
 * Sign a document (validated first).
 * @example const env = signDesired({ version: 1, target: { node: 'n1' }, createdAt: Date.now(), pipelines }, pem)
 */
export function signDesired(doc: DesiredState, privateKey: KeyInput): DesiredEnvelope {
  const d = parseDesiredState(doc)
  const key = loadPrivateKey(privateKey)
  const sig = sign(null, Buffer.from(canonicalJson(d)), key).toString('base64')
  return { doc: d as unknown as Record<string, unknown>, sig, keyId: keyIdOf(key) }
}

/**
 * Check an envelope's shape and signature, then the document's schema. Throws FOG_SIGNATURE_INVALID
 * (wrong key, tampered document, bad signature) or FOG_DESIRED_INVALID; the signature is checked
 * before the schema so an unsigned document never reaches the schema code's error messages.
 */
export function verifyDesired(envelope: unknown, publicKey: KeyInput): DesiredState {
  const e = DesiredEnvelope.safeParse(envelope)
  if (!e.success)
    throw new FoglineError(
      'FOG_SIGNATURE_INVALID',
      `not a signed desired-state envelope { doc, sig, keyId }: ${e.error.issues[0]?.message ?? 'invalid'}`,
    )
  const key = loadPublicKey(publicKey)
  const expectedKeyId = keyIdOf(key)
  let ok = false
  try {
    ok = verify(null, Buffer.from(canonicalJson(e.data.doc)), key, Buffer.from(e.data.sig, 'base64'))
  } catch {
    ok = false
  }
  if (!ok) {
    const version = (e.data.doc as { version?: unknown }).version
    const why =
      e.data.keyId !== expectedKeyId
        ? `it was signed with key ${e.data.keyId}, this node trusts key ${expectedKeyId}`
        : 'the signature does not match the document (tampered or corrupted)'
    throw new FoglineError('FOG_SIGNATURE_INVALID', `desired state refused: ${why}`, {
      keyId: e.data.keyId,
      ...(typeof version === 'number' ? { version } : {}),
    })
  }
  return parseDesiredState(e.data.doc)
}

/** Does a document apply to this node? */
export function desiredApplies(doc: Pick<DesiredState, 'target'>, nodeId: string, group: string): boolean {
  return 'node' in doc.target ? doc.target.node === nodeId : doc.target.group === group
}
