import type { CloudConfig } from '@fogline/protocol'
import { openStore } from './open.js'
import type { Store } from './types.js'

/**
 * Open the store a cloud config names, run one query, close it: for the CLI and scripts, no running cloud needed.
 * @example const rows = await queryStore({ sqlite: '.fogline/cloud.db' }, (s) => s.querySummaries({ nodeId: 'node-a' }))
 */
export async function queryStore<T>(
  config: CloudConfig['store'],
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openStore(config)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}
