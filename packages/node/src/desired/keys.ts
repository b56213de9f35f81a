import {
  type DesiredState,
  FoglineError,
  type ResolvedKey,
  resolveKeySet,
  verifyWithKeySet,
} from '@fogline/protocol'

/** Key of the rotated key set in the outbox's state KV (survives restarts). */
export const KEYS_STATE_KEY = 'desired.keys'

/**
 * The key set this node trusts: the config's `desiredKeys` until a rotation document installs a new one,
 * which is persisted and from then on wins over the config (a node restarted with its old config file keeps
 * the rotated set). Lifecycle: create → verify per document → rotate on an accepted rotation.
 * @example const keys = new NodeKeys(config.desiredKeys, getState, putState); const { doc } = keys.verify(env, clock.now())
 */
export class NodeKeys {
  private keys: Map<string, ResolvedKey>

  constructor(
    configured: readonly unknown[] | undefined,
    getState: (key: string) => unknown,
    private readonly putState: (key: string, value: unknown) => Promise<void>,
  ) {
    const rotated = getState(KEYS_STATE_KEY) as unknown[] | undefined
    this.keys = rotated
      ? resolveKeySet(rotated, 'keys')
      : configured?.length
        ? resolveKeySet(configured)
        : new Map()
  }

  /** Signature, key, expiry (at `now`, the injected clock) and scopes; throws the FoglineError to report. */
  verify(envelope: unknown, now: number): { doc: DesiredState; key: ResolvedKey } {
    if (this.keys.size === 0)
      throw new FoglineError(
        'FOG_KEY_UNKNOWN',
        'this node has no desiredKeys configured; it accepts no desired state',
        {
          field: 'desiredKeys',
        },
      )
    return verifyWithKeySet(envelope, this.keys, now)
  }

  /** Trust exactly `entries` from now on (a verified rotation document's `keys`). */
  async rotate(entries: readonly unknown[]): Promise<void> {
    const next = resolveKeySet(entries, 'keys')
    await this.putState(KEYS_STATE_KEY, entries)
    this.keys = next
  }

  /** key ids trusted now */
  ids(): string[] {
    return [...this.keys.keys()]
  }
}
