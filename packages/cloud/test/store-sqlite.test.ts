import { join } from 'node:path'
import { openSqliteStore } from '../src/index.js'
import { tempDir } from './helpers.js'
import { runStoreSuite } from './store-suite.js'

runStoreSuite('sqlite', () => openSqliteStore({ path: join(tempDir(), 'cloud.db') }))
