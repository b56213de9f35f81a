import { join } from 'node:path'
import { describe } from 'vitest'
import { openPostgresAccessRepo, openSqliteAccessRepo } from '../src/api/auth/index.js'
import { runAccessSuite } from './access-suite.js'
import { tempDir } from './helpers.js'
import { PG_URL, pgSchema, postgresAvailable } from './pg.js'

runAccessSuite('sqlite', async () => openSqliteAccessRepo(join(tempDir(), 'cloud.db')))

const available = await postgresAvailable()
// in CI a missing PostgreSQL fails loudly (connection refused), never a skip
describe.skipIf(!available && !process.env.CI)(
  `PostgreSQL access repo${available ? '' : ` (skipped: PostgreSQL at ${PG_URL} is not reachable)`}`,
  () => runAccessSuite('postgres', () => openPostgresAccessRepo({ url: PG_URL, schema: pgSchema() })),
)
