import type { Clock, CloudConfig } from '@fogline/protocol'
import { openPostgresStore } from './postgres.js'
import { openSqliteStore } from './sqlite.js'
import type { Store } from './types.js'

/** Open the store a cloud config names: `{ sqlite: path }` or `{ postgres: url }`. */
export function openStore(config: CloudConfig['store'], clock?: Clock): Promise<Store> {
  return 'sqlite' in config
    ? openSqliteStore({ path: config.sqlite, ...(clock ? { clock } : {}) })
    : openPostgresStore({ url: config.postgres, ...(clock ? { clock } : {}) })
}
