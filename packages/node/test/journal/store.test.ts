import { statSync } from 'node:fs'
import { fakeClock, tempDir } from '@fogline/testkit'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openJournal } from '../../src/journal/store.js'

function setup(o: { seqFloor?: number } = {}) {
  const d = tempDir()
  onTestFinished(() => d.remove())
  const clock = fakeClock()
  const path = d.file('ingest.db')
  const open = () => {
    const j = openJournal({ path, clock, commitInterval: 2, ...o })
    onTestFinished(() => j.close())
    return j
  }
  return { path, clock, open }
}

function rows(path: string): number[] {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('SELECT seq FROM journal ORDER BY seq').pluck().all() as number[]
  } finally {
    db.close()
  }
}

describe('ingest journal (SQLite WAL, group commit)', () => {
  it('calls done only after the group commit that holds the reading, one commit per interval', () => {
    const { path, clock, open } = setup()
    const j = open()
    const done: number[] = []
    for (let i = 0; i < 40; i++) j.append(1000 + i, `s/${i}/t`, Buffer.from(String(i)), () => done.push(i))
    // nothing is on disk yet, so nothing may be acknowledged
    expect(done).toEqual([])
    expect(rows(path)).toEqual([])
    clock.advance(2)
    expect(done).toHaveLength(40)
    expect(rows(path)).toHaveLength(40)
    expect(j.stats()).toMatchObject({ appended: 40, commits: 1, pending: 0, lastSeq: 40 })
  })

  it('replays what comes after a position, in order, with topic, payload and arrival time', () => {
    const { clock, open } = setup()
    const j = open()
    for (let i = 1; i <= 20; i++) j.append(5000 + i, `s/${i}`, Buffer.from([i]), () => {})
    clock.advance(2)
    const got: Array<[number, number, string, number]> = []
    expect(j.replay(17, (seq, ts, topic, p) => got.push([seq, ts, topic, p[0]!]))).toBe(3)
    expect(got).toEqual([
      [18, 5018, 's/18', 18],
      [19, 5019, 's/19', 19],
      [20, 5020, 's/20', 20],
    ])
  })

  it('truncates up to a checkpoint position in the next commit, and a reopened journal continues the seqs', () => {
    const { path, clock, open } = setup()
    const j = open()
    for (let i = 0; i < 10; i++) j.append(i, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    j.truncate(7)
    clock.advance(2)
    expect(rows(path)).toEqual([8, 9, 10])
    j.close()
    const again = open()
    expect(again.append(0, 't', Buffer.from('1'), () => {})).toBe(11)
  })

  it('starts above seqFloor, so a tail lost before its commit never reuses a position a checkpoint holds', () => {
    const { open } = setup({ seqFloor: 500 })
    expect(open().append(0, 't', Buffer.from('1'), () => {})).toBe(501)
  })

  it('commits at once past commitMaxRecords and on close; a closed journal refuses with a coded error', () => {
    const { path, open } = setup()
    const j = open()
    let done = 0
    for (let i = 0; i < 4096; i++) j.append(i, 't', Buffer.from('1'), () => done++)
    expect(done).toBe(4096)
    j.append(0, 't', Buffer.from('1'), () => done++)
    j.close()
    expect(done).toBe(4097)
    expect(statSync(path).size).toBeGreaterThan(0)
    let err: unknown
    j.append(0, 't', Buffer.from('1'), (e) => {
      err = e
    })
    expect(err).toMatchObject({ code: 'FOG_INTERNAL' })
  })
})
