import type { KeyObject } from 'node:crypto'
import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  FoglineError,
  generateDesiredKeyPair,
  type KeyInput,
  keyIdOf,
  loadPrivateKey,
  publicKeyRaw,
} from '@fogline/protocol'

export interface SigningKey {
  privateKey: KeyObject
  publicKeyPem: string
  publicKeyRaw: string
  keyId: string
  /** false when generated in memory (no signingKeyFile): nodes must fetch the public key again after a restart */
  persistent: boolean
  file: string | null
}

/**
 * The cloud's Ed25519 signing key: from `signingKeyFile` (PEM, PKCS#8), or generated in memory for the demo.
 * @example const key = loadSigningKey(config.signingKeyFile)
 */
export function loadSigningKey(file: string | undefined, pem?: KeyInput): SigningKey {
  let privateKey: KeyObject
  if (pem !== undefined) privateKey = loadPrivateKey(pem)
  else if (file) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (cause) {
      throw new FoglineError(
        'FOG_CONFIG_NOT_FOUND',
        `the signing key file cannot be read: ${(cause as Error).message}`,
        { file, field: 'signingKeyFile' },
        { cause },
      )
    }
    try {
      privateKey = loadPrivateKey(text)
    } catch (err) {
      throw new FoglineError('FOG_CONFIG_INVALID', (err as Error).message, { file, field: 'signingKeyFile' })
    }
  } else privateKey = loadPrivateKey(generateDesiredKeyPair().privateKeyPem)
  const pub = createPublicKey(privateKey)
  return {
    privateKey,
    publicKeyPem: pub.export({ format: 'pem', type: 'spki' }).toString(),
    publicKeyRaw: publicKeyRaw(pub),
    keyId: keyIdOf(pub),
    persistent: pem !== undefined || Boolean(file),
    file: file ?? null,
  }
}
