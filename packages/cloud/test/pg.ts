import { randomBytes } from 'node:crypto'
import { POSTGRES_URL } from '@fogline/testkit'
import pg from 'pg'
import { onTestFinished } from 'vitest'
import { openPostgresStore, type Store } from '../src/index.js'

export const PG_URL = POSTGRES_URL
export { postgresAvailable } from '@fogline/testkit'

/** A unique schema name for this run; dropped with CASCADE when the test ends. */
export function pgSchema(): string {
  const schema = `fogline_t_${process.pid}_${randomBytes(4).toString('hex')}`
  onTestFinished(async () => {
    const c = new pg.Client({ connectionString: PG_URL })
    await c.connect()
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await c.end()
  })
  return schema
}

export async function openTestPgStore(): Promise<Store> {
  return openPostgresStore({ url: PG_URL, schema: pgSchema() })
}
