import {
  canonicalJson,
  type DesiredState,
  decodeMessage,
  encodeMessage,
  generateDesiredKeyPair,
  isFoglineError,
  keyIdOf,
  loadPublicKey,
  parseDesiredState,
  signDesired,
  verifyDesired,
} from '@fogline/protocol'
import { describe, expect, it } from 'vitest'

const keys = generateDesiredKeyPair()
const doc: DesiredState = {
  version: 3,
  target: { group: 'line-1' },
  createdAt: 1_764_374_400_000,
  pipelines: [
    { id: 'p1', input: ['sensors/+/+'], stages: [{ type: 'window', size: '10s', threshold: 0.25 }] },
  ],
  models: { vib: { mean: 1.5, std: 0.2 } },
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isFoglineError(err) ? err.code : `not a FoglineError: ${(err as Error).message}`
  }
  return undefined
}

describe('desired state: canonical JSON, signing, verification', () => {
  it('canonical JSON sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: 0 }], u: undefined })).toBe(
      '{"a":[2,{"c":0,"d":1}],"b":1}',
    )
    expect(canonicalJson({ x: 'é"' })).toBe('{"x":"é\\""}')
    expect(codeOf(() => canonicalJson({ n: Number.NaN }))).toBe('FOG_DESIRED_INVALID')
  })

  it('a signed document verifies after a trip through the wire codec, with keys in another order', () => {
    const env = signDesired(doc, keys.privateKeyPem)
    expect(env.keyId).toBe(keys.keyId)
    const wire = decodeMessage(encodeMessage(env)) as typeof env
    const reordered = { ...wire, doc: Object.fromEntries(Object.entries(wire.doc).reverse()) }
    expect(verifyDesired(reordered, keys.publicKeyPem)).toEqual(doc)
    // the raw base64 form a node config may hold works too
    expect(verifyDesired(wire, keys.publicKeyRaw).version).toBe(3)
  })

  it('a tampered document, a wrong key and a bad envelope are FOG_SIGNATURE_INVALID', () => {
    const env = signDesired(doc, keys.privateKeyPem)
    const tampered = { ...env, doc: { ...env.doc, version: 4 } }
    expect(codeOf(() => verifyDesired(tampered, keys.publicKeyPem))).toBe('FOG_SIGNATURE_INVALID')
    const deep = structuredClone(env) as { doc: { models: { vib: { mean: number } } } }
    deep.doc.models.vib.mean = 9
    expect(codeOf(() => verifyDesired(deep, keys.publicKeyPem))).toBe('FOG_SIGNATURE_INVALID')
    const other = generateDesiredKeyPair()
    let msg = ''
    try {
      verifyDesired(signDesired(doc, other.privateKeyPem), keys.publicKeyPem)
    } catch (err) {
      msg = (err as Error).message
    }
    expect(msg).toContain(`signed with key ${other.keyId}`)
    expect(codeOf(() => verifyDesired({ doc }, keys.publicKeyPem))).toBe('FOG_SIGNATURE_INVALID')
    expect(codeOf(() => verifyDesired({ ...env, sig: 'AAAA' }, keys.publicKeyPem))).toBe(
      'FOG_SIGNATURE_INVALID',
    )
  })

  it('schema errors are FOG_DESIRED_INVALID naming the field, even when correctly signed', () => {
    expect(codeOf(() => parseDesiredState({ ...doc, version: 0 }))).toBe('FOG_DESIRED_INVALID')
    expect(codeOf(() => parseDesiredState({ ...doc, extra: 1 }))).toBe('FOG_DESIRED_INVALID')
    expect(codeOf(() => parseDesiredState({ ...doc, uplink: { linger: 'soon' } }))).toBe(
      'FOG_DESIRED_INVALID',
    )
    expect(codeOf(() => parseDesiredState({ ...doc, uplink: { urls: ['mqtt://evil'] } }))).toBe(
      'FOG_DESIRED_INVALID',
    )
    try {
      parseDesiredState({ ...doc, target: { node: 'has space' } })
    } catch (err) {
      expect(isFoglineError(err) && err.where.field).toMatch(/^target/)
    }
  })

  it('keys load from PEM, raw base64 and a private PEM, and key ids match', () => {
    expect(keyIdOf(loadPublicKey(keys.publicKeyPem))).toBe(keys.keyId)
    expect(keyIdOf(loadPublicKey(keys.publicKeyRaw))).toBe(keys.keyId)
    expect(keyIdOf(loadPublicKey(keys.privateKeyPem))).toBe(keys.keyId)
    expect(codeOf(() => loadPublicKey('bm90IGEga2V5'))).toBe('FOG_CONFIG_INVALID')
  })
})
