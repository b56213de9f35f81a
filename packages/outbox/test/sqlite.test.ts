import { join } from 'node:path'
import { msgpack } from '@fogline/protocol'
import { tempDir } from '@fogline/testkit'
import Database from 'better-sqlite3'
import { pack } from 'msgpackr'
import { describe, expect, it, onTestFinished } from 'vitest'
import { encodeState } from '../src/book.js'
import { openSqliteOutbox } from '../src/index.js'
import { runOutboxSuite } from './suite.js'

runOutboxSuite('sqlite', (ctx) =>
  openSqliteOutbox({
    path: join(ctx.dir, 'outbox.db'),
    config: { commitInterval: 2, ...ctx.config },
    ...(ctx.clock ? { clock: ctx.clock } : {}),
  }),
)

describe('state rows on disk', () => {
  const open = (path: string) => openSqliteOutbox({ path, config: { commitInterval: 2 } })
  const stored = (path: string, key: string) => {
    const db = new Database(path, { readonly: true })
    try {
      return db.prepare('SELECT value FROM state WHERE key = ?').pluck().get(key) as Buffer
    } finally {
      db.close()
    }
  }
  // an engine snapshot's shape: per sensor, a key, strings and aggregates (numbers that do not repeat)
  const snapshot = {
    groups: Array.from({ length: 1000 }, (_, i) => [
      `sensors/s-${i}/temperature`,
      `s-${i}`,
      'temperature',
      [[1764547200000, 1764547260000, 0, 1, { n: 60 + i, sum: i * 21.37, min: 18.5 + i / 1000, max: 25.25 }]],
    ]),
  }

  it('a value over one page is stored deflated behind 0xc1 and reads back whole; a small one stays MessagePack', async () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    const path = join(d.path, 'outbox.db')
    const ob = await open(path)
    await ob.putState('pipeline.checkpoint', snapshot)
    await ob.putState('small', { journalPos: 42 })
    await ob.close()
    const big = stored(path, 'pipeline.checkpoint')
    const plain = pack(snapshot)
    expect(big[0]).toBe(0xc1)
    // the flash-wear point of it: well under half the bytes
    expect(big.length).toBeLessThan(plain.length / 2)
    expect(stored(path, 'small')).toEqual(pack({ journalPos: 42 }))
    const again = await open(path)
    onTestFinished(() => again.close())
    expect(again.getState('pipeline.checkpoint')).toEqual(snapshot)
    expect(again.getState('small')).toEqual({ journalPos: 42 })
  })

  it("after a large state value, later packs no longer land in (and keep alive) msgpackr's grown buffer", () => {
    encodeState(snapshot)
    // every packed value is a view of msgpackr's one buffer; after the snapshot it is small again
    expect(msgpack.pack({ journalPos: 42 }).buffer.byteLength).toBeLessThanOrEqual(8192)
    // a small value does not reset it (no allocation per small row)
    const a = encodeState({ journalPos: 1 })
    expect(encodeState({ journalPos: 2 }).buffer).toBe(a.buffer)
  })

  it('reads state rows written before deflating (plain MessagePack of any size)', async () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    const path = join(d.path, 'outbox.db')
    await (await open(path)).close()
    const db = new Database(path)
    db.prepare('INSERT INTO state (key, value) VALUES (?, ?)').run('pipeline.checkpoint', pack(snapshot))
    db.close()
    const ob = await open(path)
    onTestFinished(() => ob.close())
    expect(ob.getState('pipeline.checkpoint')).toEqual(snapshot)
  })
})
