import { appendFileSync, readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { fakeClock, tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openJournal, readJournal } from '../../src/journal/log.js'

function setup(o: { seqFloor?: number } = {}) {
  const d = tempDir()
  onTestFinished(() => d.remove())
  const clock = fakeClock()
  const dir = d.file('journal')
  const open = () => {
    const j = openJournal({ dir, clock, commitInterval: 2, ...o })
    onTestFinished(() => j.close())
    return j
  }
  return { dir, clock, open }
}

function seqs(dir: string): number[] {
  const out: number[] = []
  readJournal(dir, 0, (seq) => out.push(seq))
  return out
}

const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.log'))

describe('ingest journal (append-only segments, group commit)', () => {
  it('calls done only after the group commit that holds the reading, one write per interval', () => {
    const { dir, clock, open } = setup()
    const j = open()
    const done: number[] = []
    for (let i = 0; i < 40; i++) j.append(1000 + i, `s/${i}/t`, Buffer.from(String(i)), () => done.push(i))
    // nothing is written yet, so nothing may be acknowledged
    expect(done).toEqual([])
    expect(seqs(dir)).toEqual([])
    clock.advance(2)
    expect(done).toHaveLength(40)
    expect(seqs(dir)).toHaveLength(40)
    expect(j.stats()).toMatchObject({ appended: 40, commits: 1, pending: 0, lastSeq: 40 })
  })

  it('replays what comes after a position, in order, with topic, payload and arrival time', () => {
    const { clock, open } = setup()
    const j = open()
    for (let i = 1; i <= 20; i++) j.append(5000 + i, `s/${i}`, Buffer.from([i]), () => {})
    clock.advance(2)
    j.close()
    const again = open()
    const got: Array<[number, number, string, number]> = []
    expect(again.replay(17, (seq, ts, topic, p) => got.push([seq, ts, topic, p[0]!]))).toBe(3)
    expect(got).toEqual([
      [18, 5018, 's/18', 18],
      [19, 5019, 's/19', 19],
      [20, 5020, 's/20', 20],
    ])
  })

  it('a checkpoint position deletes the segments it covers; a reopened journal continues the seqs', () => {
    const { dir, clock, open } = setup()
    const j = open()
    for (let i = 0; i < 10; i++) j.append(i, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    j.truncate(7) // rotates: 1..10 stay until a checkpoint covers 10
    clock.advance(2)
    for (let i = 0; i < 5; i++) j.append(i, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    expect(seqs(dir)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    j.truncate(12)
    clock.advance(2)
    expect(seqs(dir)).toEqual([11, 12, 13, 14, 15])
    j.truncate(15)
    clock.advance(2)
    expect(seqs(dir)).toEqual([])
    j.close()
    expect(open().append(0, 't', Buffer.from('1'), () => {})).toBe(16)
  })

  it('starts above seqFloor, so a tail lost before its commit never reuses a position a checkpoint holds', () => {
    const { open } = setup({ seqFloor: 500 })
    expect(open().append(0, 't', Buffer.from('1'), () => {})).toBe(501)
  })

  it('a torn or damaged tail (power cut) is cut off at open; the records before it replay', () => {
    const { dir, clock, open } = setup()
    const j = open()
    for (let i = 0; i < 5; i++) j.append(i, 'sensors/a/t', Buffer.from('{"value":1}'), () => {})
    clock.advance(2)
    j.close()
    const [seg] = segments(dir)
    const path = join(dir, seg!)
    const size = statSync(path).size
    // half of the last record reached the disk, then garbage
    truncateSync(path, size - 10)
    appendFileSync(path, Buffer.from([1, 2, 3]))
    expect(seqs(dir)).toEqual([1, 2, 3, 4])
    expect(open().append(0, 't', Buffer.from('1'), () => {})).toBe(5)
    expect(statSync(path).size).toBeLessThan(size - 10)
  })

  it('commits at once past commitMaxRecords and on close; a closed journal refuses with a coded error', () => {
    const { dir, open } = setup()
    const j = open()
    let done = 0
    for (let i = 0; i < 4096; i++) j.append(i, 't', Buffer.from('1'), () => done++)
    expect(done).toBe(4096)
    j.append(0, 't', Buffer.from('1'), () => done++)
    j.close()
    expect(done).toBe(4097)
    expect(seqs(dir)).toHaveLength(4097)
    let err: unknown
    j.append(0, 't', Buffer.from('1'), (e) => {
      err = e
    })
    expect(err).toMatchObject({ code: 'FOG_INTERNAL' })
  })
})
