import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSqliteStore, queryStore } from '../src/index.js'
import { summaryBody, tempDir } from './helpers.js'

describe('queryStore (for the CLI and scripts, no running cloud)', () => {
  it('opens the store named by a cloud config, runs the query and closes it', async () => {
    const path = join(tempDir(), 'c.db')
    const s = await openSqliteStore({ path })
    await s.insertBatch(
      {
        nodeId: 'n1',
        stream: 'summary',
        batchId: 'b',
        sentAt: 1,
        records: [{ seq: 1, ts: 1, body: summaryBody(1) }],
      },
      1,
    )
    await s.close()
    const rows = await queryStore({ sqlite: path }, (st) => st.querySummaries({ nodeId: 'n1' }))
    expect(rows.map((r) => [r.nodeId, r.seq, r.count])).toEqual([['n1', 1, 10]])
  })
})
