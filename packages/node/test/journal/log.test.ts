import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { fakeClock, tempDir, waitFor } from '@fogline/testkit'
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

const segments = (dir: string) => readdirSync(dir).filter((n) => /\.(jnl|log)$/.test(n))

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

  it('with interval 0 commits once per turn of the event loop: the appends of a turn share one write', async () => {
    const d = tempDir()
    onTestFinished(() => d.remove())
    // the fake clock never moves: a per-turn commit must not wait for time
    const j = openJournal({ dir: d.file('journal'), clock: fakeClock(), commitInterval: 0 })
    onTestFinished(() => j.close())
    const done: number[] = []
    for (let i = 0; i < 40; i++) j.append(1000 + i, `s/${i}/t`, Buffer.from(String(i)), () => done.push(i))
    expect(done).toEqual([])
    expect(seqs(d.file('journal'))).toEqual([])
    await waitFor(() => done.length === 40, 'the acks of the first turn')
    expect(done).toHaveLength(40)
    expect(j.stats()).toMatchObject({ appended: 40, commits: 1, pending: 0 })
    // the next turn's appends are the next group
    j.append(2000, 's/x/t', Buffer.from('x'), () => done.push(40))
    await waitFor(() => done.length === 41, 'the ack of the next turn')
    expect(done).toHaveLength(41)
    expect(j.stats()).toMatchObject({ appended: 41, commits: 2 })
    expect(seqs(d.file('journal'))).toHaveLength(41)
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

  it('a torn or damaged tail (power cut) is cut off at open, whole groups only; the groups before it replay', () => {
    const { dir, clock, open } = setup()
    const j = open()
    for (let i = 0; i < 3; i++) j.append(i, 'sensors/a/t', Buffer.from('{"value":1}'), () => {})
    clock.advance(2)
    const firstGroup = statSync(join(dir, segments(dir)[0]!)).size
    for (let i = 0; i < 3; i++) j.append(i, 'sensors/a/t', Buffer.from('{"value":1}'), () => {})
    clock.advance(2)
    j.close()
    const [seg] = segments(dir)
    const path = join(dir, seg!)
    const size = statSync(path).size
    // half of the second group reached the disk, then garbage: none of its PUBACKs went out, all of it goes
    truncateSync(path, size - 10)
    appendFileSync(path, Buffer.from([1, 2, 3]))
    expect(seqs(dir)).toEqual([1, 2, 3])
    expect(open().append(0, 't', Buffer.from('1'), () => {})).toBe(4)
    expect(statSync(path).size).toBe(firstGroup)
  })

  it('one CRC per group: a flipped byte inside a group cuts that group and everything after it', () => {
    const { dir, clock, open } = setup()
    const j = open()
    for (let g = 0; g < 3; g++) {
      for (let i = 0; i < 4; i++) j.append(i, `s/${g}/${i}`, Buffer.from('{"value":1}'), () => {})
      clock.advance(2)
    }
    j.close()
    const path = join(dir, segments(dir)[0]!)
    const buf = readFileSync(path)
    const group = buf.length / 3
    // a payload byte of the second group's third record: only the CRC can tell
    buf[group + 8 + (2 * (group - 8)) / 4 + 30] ^= 0x01
    writeFileSync(path, buf)
    expect(seqs(dir)).toEqual([1, 2, 3, 4])
  })

  it('still replays segments of the first journal version (`.log`, a CRC in each record)', () => {
    const { dir, open } = setup()
    mkdirSync(dir, { recursive: true })
    // u32 length | u32 crc32 | f64 seq | f64 ts | u16 topic length | topic | payload, per record
    const rec = (seq: number, topic: string, payload: string) => {
      const t = Buffer.from(topic)
      const rest = Buffer.alloc(18 + t.length + payload.length)
      rest.writeDoubleLE(seq, 0)
      rest.writeDoubleLE(1000 + seq, 8)
      rest.writeUInt16LE(t.length, 16)
      t.copy(rest, 18)
      rest.write(payload, 18 + t.length)
      const head = Buffer.alloc(8)
      head.writeUInt32LE(rest.length, 0)
      head.writeUInt32LE(crc32(rest), 4)
      return Buffer.concat([head, rest])
    }
    writeFileSync(join(dir, '0000000000000001.log'), Buffer.concat([rec(1, 's/a', 'x'), rec(2, 's/b', 'yy')]))
    const j = open()
    const got: Array<[number, number, string, string]> = []
    j.replay(0, (seq, ts, topic, p) => got.push([seq, ts, topic, p.toString()]))
    expect(got).toEqual([
      [1, 1001, 's/a', 'x'],
      [2, 1002, 's/b', 'yy'],
    ])
    expect(j.append(0, 't', Buffer.from('1'), () => {})).toBe(3)
  })

  it('a burst grows the group buffer for its group only: the next group starts in 64 KiB again', () => {
    const { dir, clock, open } = setup()
    const j = open()
    expect(j.stats().buffer).toBe(64 * 1024)
    const payload = Buffer.alloc(1000, 7)
    // 300 readings of ~1 KB in one commit interval: a 300 KB group
    for (let i = 0; i < 300; i++) j.append(i, `s/${i}/t`, payload, () => {})
    expect(j.stats().buffer).toBeGreaterThan(300_000)
    clock.advance(2)
    expect(j.stats().buffer).toBe(64 * 1024)
    // and the group it wrote is whole
    const got: number[] = []
    readJournal(dir, 0, (seq, _ts, _t, p) => {
      expect(p.equals(payload)).toBe(true)
      got.push(seq)
    })
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
  })

  it('commits at once past commitMaxRecords and on close; a closed journal refuses with a coded error', async () => {
    const { dir, open } = setup()
    const j = open()
    let done = 0
    // an ack that appends again (aedes reads the next packet) must not run inside the append that filled the group
    let inside = 0
    let appending = false
    const ack = () => {
      done++
      if (appending) inside++
    }
    for (let i = 0; i < 4095; i++) j.append(i, 't', Buffer.from('1'), ack)
    appending = true
    j.append(4095, 't', Buffer.from('1'), ack)
    appending = false
    // written at once (the 4,096th append), acknowledged after the append returned
    expect(seqs(dir)).toHaveLength(4096)
    expect(done).toBe(0)
    await Promise.resolve()
    expect(done).toBe(4096)
    expect(inside).toBe(0)
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

describe('ingest journal: QoS 2 packet ids held until their PUBREL, across restarts and checkpoints', () => {
  it('an id held with its reading outlives the process; a release or a clean session forgets it', () => {
    const { dir, clock, open } = setup()
    const j = open()
    j.hold('s1', 7)
    j.append(1, 's/1/t', Buffer.from('1'), () => {})
    j.hold('s1', 8)
    j.append(2, 's/1/t', Buffer.from('1'), () => {})
    j.hold('s2', 7)
    j.append(3, 's/2/t', Buffer.from('1'), () => {})
    expect(j.held('s1', 7)).toBe(true)
    clock.advance(2)
    let released = false
    j.release('s1', 8, () => {
      released = true
    })
    // the PUBCOMP waits for the release's commit
    expect(released).toBe(false)
    clock.advance(2)
    expect(released).toBe(true)
    j.clear('s2')
    j.close()
    const again = open()
    expect([again.held('s1', 7), again.held('s1', 8), again.held('s2', 7)]).toEqual([true, false, false])
    expect(again.stats().held).toBe(1)
    // id records are not readings: replay and the position see only the three readings
    expect(seqs(dir)).toEqual([1, 2, 3])
    expect(again.stats().lastSeq).toBe(3)
    // releasing what is not held commits nothing and answers at once
    let now = false
    again.release('s9', 1, () => {
      now = true
    })
    expect(now).toBe(true)
  })

  it('a hold is cut with its reading: a torn group takes both (a crash before the PUBREC)', () => {
    const { dir, clock, open } = setup()
    const j = open()
    j.hold('s1', 1)
    j.append(1, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    j.hold('s1', 2)
    j.append(2, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    j.close()
    const seg = join(dir, segments(dir)[0]!)
    truncateSync(seg, statSync(seg).size - 3)
    const again = open()
    expect([again.held('s1', 1), again.held('s1', 2)]).toEqual([true, false])
    expect(seqs(dir)).toEqual([1])
  })

  it('checkpoints delete the segments that took an id, never the id: it is restated first', () => {
    const { dir, clock, open } = setup()
    const j = open()
    j.hold('s1', 5)
    j.append(1, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    for (let round = 0; round < 3; round++) {
      j.append(0, 't', Buffer.from('1'), () => {})
      clock.advance(2)
      j.truncate(j.stats().lastSeq)
      clock.advance(2)
    }
    // everything up to the last reading is covered: its segments are gone, the id is not
    expect(seqs(dir)).toEqual([])
    j.close()
    let again = open()
    expect(again.held('s1', 5)).toBe(true)
    // a restart with nothing new carries on the segment of id records (a new one would take its name)
    again.close()
    again = open()
    expect(again.held('s1', 5)).toBe(true)
    expect(segments(dir)).toHaveLength(1)
    // and once released, a later checkpoint leaves nothing of it
    again.release('s1', 5, () => {})
    again.append(0, 't', Buffer.from('1'), () => {})
    clock.advance(2)
    again.truncate(again.stats().lastSeq)
    clock.advance(2)
    again.close()
    expect(open().held('s1', 5)).toBe(false)
  })
})
