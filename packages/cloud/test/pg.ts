import { POSTGRES_URL, pgSchema as schemaDroppedWith } from '@fogline/testkit'
import { onTestFinished } from 'vitest'
import { openPostgresStore, type Store } from '../src/index.js'

export const PG_URL = POSTGRES_URL
export { postgresAvailable } from '@fogline/testkit'

/** A unique schema name for this run; dropped with CASCADE when the test ends. */
export const pgSchema = (): string => schemaDroppedWith(onTestFinished)

export async function openTestPgStore(): Promise<Store> {
  return openPostgresStore({ url: PG_URL, schema: pgSchema() })
}
