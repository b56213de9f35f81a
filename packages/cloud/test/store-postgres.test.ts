import { describe, expect, it, onTestFinished } from 'vitest'
import { openPostgresStore, type StoreChange } from '../src/index.js'
import { summaryBody, until } from './helpers.js'
import { openTestPgStore, PG_URL, pgSchema, postgresAvailable } from './pg.js'
import { runStoreSuite } from './store-suite.js'

const available = await postgresAvailable()

// in CI a missing PostgreSQL fails every test of the suite loudly (connection refused), never a skip
describe.skipIf(!available && !process.env.CI)(
  `PostgreSQL store${available ? '' : ` (skipped: PostgreSQL at ${PG_URL} is not reachable)`}`,
  () => {
    runStoreSuite('postgres', openTestPgStore)

    describe('PostgreSQL store: live changes between replicas', () => {
      it('tells other store instances on the same schema what was committed (LISTEN/NOTIFY), not itself', async () => {
        const schema = pgSchema()
        const a = await openPostgresStore({ url: PG_URL, schema, poolSize: 1 })
        onTestFinished(() => a.close())
        const b = await openPostgresStore({ url: PG_URL, schema, poolSize: 1 })
        onTestFinished(() => b.close())
        const seenA: StoreChange[] = []
        const seenB: StoreChange[] = []
        const stopA = await a.watch!((c) => seenA.push(c))
        onTestFinished(stopA)
        const stopB = await b.watch!((c) => seenB.push(c))
        onTestFinished(stopB)
        const records = [1, 2, 3].map((seq) => ({ seq, ts: 1, body: summaryBody(seq) }))
        await a.insertBatch({ nodeId: 'n1', stream: 'summary', batchId: 'x', sentAt: 1, records }, 1)
        await a.insertBatch({ nodeId: 'n1', stream: 'summary', batchId: 'x', sentAt: 1, records }, 1) // duplicates: no change
        await a.recordHeartbeat('n1', { online: true }, 2)
        // a marker change after them: notifications arrive in commit order, so once b has the marker, the
        // duplicate insert would have shown up before it
        await a.recordHeartbeat('n2', { online: true }, 3)
        await until(() => seenB.some((c) => c.nodeId === 'n2'), 'changes seen by b')
        expect(seenB).toEqual([
          { kind: 'rows', nodeId: 'n1', stream: 'summary', ranges: [[1, 3]] },
          { kind: 'node', nodeId: 'n1' },
          { kind: 'node', nodeId: 'n2' },
        ])
        expect(seenA).toEqual([])
      })
    })
  },
)
