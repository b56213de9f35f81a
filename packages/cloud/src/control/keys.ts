import {
  type DesiredState,
  type KeyScope,
  publicKeyRaw,
  type ResolvedKey,
  resolveKeySet,
} from '@fogline/protocol'

/** A trusted operator key as GET /api/keys shows it. */
export interface TrustedKeyView {
  keyId: string
  publicKeyRaw: string
  scopes: KeyScope[]
  notAfter: number
}

/**
 * The operator keys the cloud verifies posted documents with. The cloud holds no private key that can sign
 * pipelines: operators sign on their own machines (`fogline push`), the cloud checks, stores and relays.
 * The set starts from config `operatorKeys` and follows every rotation document it accepted (replayed from
 * the stored versions at start), so it refuses what the nodes would refuse.
 * Lifecycle: create(config) → replay(stored versions) → current() per request → rotate(keys) on a rotation.
 */
export class TrustedKeys {
  private keys: Map<string, ResolvedKey>

  constructor(entries: readonly unknown[] | undefined) {
    this.keys = entries ? resolveKeySet(entries, 'operatorKeys') : new Map()
  }

  current(): ReadonlyMap<string, ResolvedKey> {
    return this.keys
  }

  /** take the key set of an accepted rotation document */
  rotate(entries: readonly unknown[]): void {
    this.keys = resolveKeySet(entries, 'keys')
  }

  /** follow the rotations among stored documents, oldest first */
  replay(docs: readonly DesiredState[]): void {
    for (const d of [...docs].sort((a, b) => a.version - b.version)) if (d.keys) this.rotate(d.keys)
  }

  view(): TrustedKeyView[] {
    return [...this.keys.values()].map((k) => ({
      keyId: k.keyId,
      publicKeyRaw: publicKeyRaw(k.key),
      scopes: [...k.scopes],
      notAfter: k.notAfter,
    }))
  }
}
