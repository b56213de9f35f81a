import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openPostgresStore, openSqliteStore, SCHEMA_VERSION, type Store } from '../src/index.js'
import { oldSchema } from './fixtures/schema-0c27a52.js'
import { tempDir } from './helpers.js'
import { PG_URL, pgSchema, postgresAvailable } from './pg.js'

const ALL = Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1)

/** What an upgraded store must still hold and newly do: the old rows, and ordered heartbeats. */
async function expectUpgraded(s: Store): Promise<void> {
  expect(s.migration).toEqual({ from: 0, to: SCHEMA_VERSION, applied: ALL })
  expect((await s.querySummaries({ nodeId: 'old-1' })).map((r) => [r.seq, r.sum])).toEqual([[1, 3]])
  expect(await s.getNode('old-1')).toMatchObject({ group: 'g', summaries: 1, heartbeat: { readingsIn: 7 } })
  expect(await s.recordHeartbeat('old-1', { boot: 10, seq: 2, ts: 6000, online: true }, 7000)).toBe(true)
  expect(await s.recordHeartbeat('old-1', { boot: 10, seq: 1, ts: 5500, online: true }, 7000)).toBe(false)
  expect(await s.getNode('old-1')).toMatchObject({ lastSeen: 6000, declaredOnline: true })
}

describe('store migrations: SQLite', () => {
  it('upgrades a store made by the build at 0c27a52 in place (rows kept), then has nothing left to do', async () => {
    const path = join(tempDir(), 'cloud.db')
    const db = new Database(path)
    for (const s of oldSchema('sqlite')) db.exec(s)
    db.close()
    const s = await openSqliteStore({ path })
    await expectUpgraded(s)
    await s.close()
    const again = await openSqliteStore({ path })
    onTestFinished(() => again.close())
    expect(again.migration).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] })
    expect(await again.countRecords()).toBe(1)
  })
})

const pgUp = await postgresAvailable()
describe.skipIf(!pgUp && !process.env.CI)(
  `store migrations: PostgreSQL${pgUp ? '' : ` (skipped: PostgreSQL at ${PG_URL} is not reachable)`}`,
  () => {
    it('upgrades a store made by the build at 0c27a52 in place (rows kept), then has nothing left to do', async () => {
      const schema = pgSchema()
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      await c.query(`CREATE SCHEMA ${schema}`)
      await c.query(`SET search_path TO ${schema}`)
      for (const s of oldSchema('postgres')) await c.query(s)
      await c.end()
      const s = await openPostgresStore({ url: PG_URL, schema })
      await expectUpgraded(s)
      await s.close()
      const again = await openPostgresStore({ url: PG_URL, schema })
      onTestFinished(() => again.close())
      expect(again.migration).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] })
    })

    it('stores opened together on an empty schema apply each step once, under the advisory lock', async () => {
      const schema = pgSchema()
      const stores = await Promise.all(
        [1, 2, 3, 4].map(() => openPostgresStore({ url: PG_URL, schema, poolSize: 1 })),
      )
      for (const s of stores) onTestFinished(() => s.close())
      // exactly one of them applied everything; the others found it done
      expect(stores.map((s) => s.migration.applied.length).sort()).toEqual([0, 0, 0, SCHEMA_VERSION])
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      onTestFinished(() => c.end())
      const rows = await c.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)
      expect(rows.rows.map((r) => r.version)).toEqual(ALL)
    })
  },
)
