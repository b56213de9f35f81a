import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs'
import { isFoglineError } from '@fogline/protocol'
import { tempDir } from '@fogline/testkit'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type Outbox, openSqliteOutbox, type QuarantineInfo } from '../src/index.js'
import { expectConserved, summaryBody } from './suite.js'

function dir() {
  const d = tempDir()
  onTestFinished(() => d.remove())
  return d
}
async function filled(path: string, n = 500): Promise<void> {
  const ob = await openSqliteOutbox({ path, config: { commitInterval: 1 } })
  await ob.append(
    Array.from({ length: n }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summaryBody(i) })),
  )
  await ob.close()
}
function flip(path: string, offset: number, len = 16): void {
  const fd = openSync(path, 'r+')
  const b = Buffer.alloc(len)
  readSync(fd, b, 0, len, offset)
  for (let i = 0; i < len; i++) b[i] = b[i]! ^ 0xff
  writeSync(fd, b, 0, len, offset)
  closeSync(fd)
}

describe('sqlite outbox: corruption at open', () => {
  for (const [what, where] of [
    ['the header', () => 0],
    ['a b-tree page header', (page: number) => page * 2],
    ['the last page', (_page: number, size: number) => size - 4096],
  ] as const) {
    it(`moves a file with a byte-flipped ${what} aside, reports FOG_OUTBOX_CORRUPT and opens a fresh one`, async () => {
      const d = dir()
      const path = d.file('outbox.db')
      await filled(path)
      const page = new Database(path).pragma('page_size', { simple: true }) as number
      flip(path, where(page, statSync(path).size))
      const seen: QuarantineInfo[] = []
      const ob = await openSqliteOutbox({ path, onCorrupt: (i) => seen.push(i) })
      onTestFinished(() => ob.close())
      expect(ob.quarantined?.code).toBe('FOG_OUTBOX_CORRUPT')
      expect(seen).toHaveLength(1)
      expect(ob.stats().quarantined?.movedTo).toBe(seen[0]!.movedTo)
      // moved aside, not deleted
      expect(existsSync(seen[0]!.movedTo)).toBe(true)
      expect(seen[0]!.movedTo).toMatch(/outbox\.db\.corrupt-\d+$/)
      expect(readdirSync(d.path).some((f) => f.startsWith('outbox.db.corrupt-'))).toBe(true)
      // the fresh outbox works, and its seqs start above anything the old file could have sent
      const r = await ob.append([{ stream: 'summary', ts: 1, body: summaryBody(1) }])
      expect(r[0]!.seq).toBeGreaterThan(500)
      expect(r[0]!.seq).toBeGreaterThan(seen[0]!.seqFloor - 1)
      expect(ob.read('summary', 0, 10).map((x) => x.seq)).toEqual([r[0]!.seq])
      await ob.close()
      // and reopens cleanly afterwards (no second quarantine)
      const again = await openSqliteOutbox({ path })
      onTestFinished(() => again.close())
      expect(again.quarantined).toBeNull()
      expect(again.lastSeq('summary')).toBe(r[0]!.seq)
    })
  }

  it('refuses a file that is not an SQLite database (garbage) the same way', async () => {
    const d = dir()
    const path = d.file('outbox.db')
    const fd = openSync(path, 'w')
    writeSync(fd, Buffer.alloc(8192, 0x5a))
    closeSync(fd)
    const ob = await openSqliteOutbox({ path })
    onTestFinished(() => ob.close())
    expect(ob.quarantined?.reason).toMatch(/header/)
    expect((await ob.append([{ stream: 'event', ts: 1, body: {} }]))[0]!.seq).toBeGreaterThan(1_000_000)
  })

  it('does not move a healthy file aside when it is only locked by another process', async () => {
    const d = dir()
    const path = d.file('outbox.db')
    await filled(path, 10)
    const other = new Database(path)
    onTestFinished(() => {
      if (other.open) other.close()
    })
    other.pragma('locking_mode = EXCLUSIVE')
    other.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS t (x); COMMIT')
    const err = await openSqliteOutbox({ path }).catch((e: unknown) => e)
    expect(isFoglineError(err)).toBe(true)
    expect(readdirSync(d.path).some((f) => f.includes('.corrupt-'))).toBe(false)
    other.close()
    const ob = await openSqliteOutbox({ path })
    onTestFinished(() => ob.close())
    expect(ob.stats().records).toBe(10)
  })

  it('opens a sound file without quarantine and keeps its records', async () => {
    const d = dir()
    const path = d.file('outbox.db')
    await filled(path, 100)
    const ob = await openSqliteOutbox({ path, config: { integrityCheck: 'full' } })
    onTestFinished(() => ob.close())
    expect(ob.quarantined).toBeNull()
    expect(ob.stats().records).toBe(100)
  })
})

describe('sqlite outbox: disk full and durability', () => {
  it('a full file rejects the append with FOG_DISK_FULL and loses nothing committed before', async () => {
    const d = dir()
    const path = d.file('outbox.db')
    // the file cap (max_page_count) is far below the record capacity, so SQLite hits SQLITE_FULL first
    const ob: Outbox = await openSqliteOutbox({
      path,
      config: { maxFileBytes: 256 * 1024, commitInterval: 1 },
    })
    const committed: number[] = []
    let err: unknown
    for (let k = 0; k < 200 && !err; k++) {
      try {
        const r = await ob.append(
          Array.from({ length: 20 }, (_, i) => ({
            stream: 'raw' as const,
            ts: k,
            body: { k, i, pad: 'z'.repeat(200) },
          })),
        )
        committed.push(...r.map((x) => x.seq))
      } catch (e) {
        err = e
      }
    }
    expect(isFoglineError(err, 'FOG_DISK_FULL')).toBe(true)
    expect(committed.length).toBeGreaterThan(100)
    // the failed append took no seq and left the counters consistent
    expect(ob.lastSeq('raw')).toBe(committed.length)
    expectConserved(ob)
    // acking frees room: appends work again
    ob.ack('raw', [[1, 200]])
    const after = await ob.append([{ stream: 'raw', ts: 1, body: { again: true } }])
    expect(after[0]!.seq).toBe(committed.length + 1)
    await ob.close()
    const re = await openSqliteOutbox({ path, config: { maxFileBytes: 256 * 1024 } })
    onTestFinished(() => re.close())
    expect(re.quarantined).toBeNull()
    expect(re.read('raw', 0, 100_000).map((r) => r.seq)).toEqual([
      ...committed.filter((s) => s > 200),
      committed.length + 1,
    ])
  })

  for (const sync of ['NORMAL', 'FULL'] as const) {
    it(`synchronous=${sync} is applied to the connection (WAL)`, async () => {
      const d = dir()
      const path = d.file('outbox.db')
      const ob = await openSqliteOutbox({ path, config: { synchronous: sync } })
      await ob.append([{ stream: 'event', ts: 1, body: {} }])
      await ob.close()
      const db = new Database(path)
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      db.close()
    })
  }

  it('the file stays bounded under a long outage at capacity', async () => {
    const d = dir()
    const path = d.file('outbox.db')
    const ob = await openSqliteOutbox({ path, config: { capacityBytes: 512 * 1024, commitInterval: 1 } })
    onTestFinished(() => ob.close())
    for (let k = 0; k < 60; k++)
      await ob.append(
        Array.from({ length: 200 }, (_, i) => ({
          stream: 'raw' as const,
          ts: k,
          body: { k, i, pad: 'q'.repeat(100) },
        })),
      )
    expect(ob.stats().bytes).toBeLessThanOrEqual(512 * 1024)
    expect(ob.stats().dropped['capacity-raw']).toBeGreaterThan(5000)
    // deleted pages are reused: the file is a small multiple of the capacity, not of what was appended (~1.6 MB)
    expect(statSync(path).size).toBeLessThan(1.5 * 512 * 1024 + 64 * 1024)
    expectConserved(ob)
  })
})
