import { openSqliteOutbox } from '@fogline/outbox'
import { runTsChild, waitFor } from '@fogline/testkit'
import Database from 'better-sqlite3'
import { onTestFinished } from 'vitest'

// the built node (npm test builds dist/ first): the shipped code, and a start without tsx's compile step
const CLI = 'packages/cli/dist/bin.js'

/** A real `fogline node` child on `cfg`, killed -9 when the test ends. */
export function runNode(cfg: string) {
  const child = runTsChild(CLI, ['node', '--config', cfg, '--status-every', '0'], { plain: true })
  onTestFinished(() => child.kill9())
  return child
}

/** one number from a node's SQLite file, read beside the running node (WAL allows a reader) */
export function readCount(path: string, sql: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).pluck().get() as number
  } finally {
    db.close()
  }
}

/** records still in the node's outbox */
const backlog = (outboxPath: string) => readCount(outboxPath, 'SELECT count(*) FROM records')

/**
 * One more life without sensors: replay, windows close, the outbox drains into the cloud; waits until
 * `count()` (what the cloud holds) settles with the outbox empty, kills the node, and returns the records
 * its outbox still holds.
 */
export async function lastLife(cfg: string, outboxPath: string, count: () => Promise<number>, what: string) {
  const last = runNode(cfg)
  await last.waitForLine(/sensors publish to mqtt:/, 30_000)
  let prev = -1
  await waitFor(
    async () => {
      const n = await count()
      const settled = n === prev && backlog(outboxPath) === 0
      prev = n
      return settled && n > 0
    },
    what,
    30_000,
    1500,
  )
  await last.kill9()
  const ob = await openSqliteOutbox({ path: outboxPath })
  const records = ob.stats().records
  await ob.close()
  return records
}
