import { fakeClock, tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type DeadLetterRow, DeadLetterStore } from '../../src/deadletters.js'
import { DurableIngest, deadLetterOnce } from '../../src/journal/ingest.js'

const bad = (topic: string): DeadLetterRow => ({
  ts: 0,
  topic,
  pipelineId: 'p',
  code: 'FOG_DECODE',
  reason: 'not JSON',
  payload: 'x',
})

/** A data folder removed after the test, a fake clock, and a first node life that accepted 3 bad readings. */
function started() {
  const d = tempDir()
  onTestFinished(() => d.remove())
  const clock = fakeClock(10_000)
  const first = life(d, clock, undefined)
  for (let i = 0; i < 3; i++) first.di.accept(`s/${i}/t`, Buffer.from('x'), () => {})
  return { d, clock, first }
}

/** One node life: a dead-letter store and a journal in `dir`; every reading is bad and set aside. */
function life(dir: { file(n: string): string }, clock: ReturnType<typeof fakeClock>, checkpoint: unknown) {
  const store = new DeadLetterStore(dir.file('deadletters.db'), 1000, clock)
  let hook: (d: DeadLetterRow) => void = () => {}
  const di: DurableIngest = new DurableIngest({
    dir: dir.file('journal'),
    synchronous: 'NORMAL',
    commitInterval: 2,
    clock,
    checkpoint,
    getState: () => undefined,
    ingest: (topic) => hook(bad(topic)),
  })
  hook = deadLetterOnce(store, di)
  return { store, di }
}

describe('dead letters and the ingest journal (issue 12: replay must not set a bad reading aside twice)', () => {
  it('a replayed bad reading already stored before the crash is not stored again; one not yet flushed is', () => {
    const { d, clock, first } = started()
    clock.advance(200) // the dead-letter flush: readings 1..3 stored, with journal position 3
    expect(first.store.journalPos).toBe(3)
    first.di.accept('s/3/t', Buffer.from('x'), () => {})
    clock.advance(2) // reading 4 is journaled (and PUBACKed) but its dead letter is not flushed yet: crash
    first.di.close()
    // no checkpoint was taken: the journal replays 1..4 into a fresh store handle
    const again = life(d, clock, undefined)
    expect(again.store.journalPos).toBe(3)
    expect(again.store.total).toBe(3)
    expect(again.di.replay()).toBe(4)
    again.store.flush()
    expect(again.store.total).toBe(4)
    expect(again.store.recent().map((r) => r.topic)).toEqual(['s/3/t', 's/2/t', 's/1/t', 's/0/t'])
    expect(again.store.journalPos).toBe(4)
    // live readings after the replay are set aside as usual
    again.di.accept('s/4/t', Buffer.from('x'), () => {})
    again.store.close()
    again.di.close()
    const third = new DeadLetterStore(d.file('deadletters.db'), 1000, clock)
    onTestFinished(() => third.close())
    expect([third.total, third.journalPos]).toEqual([5, 5])
  })

  it('with the journal off, positions are forgotten so a later journal cannot skip its own readings', () => {
    const { d, clock, first } = started()
    first.store.close()
    first.di.close()
    const store = new DeadLetterStore(d.file('deadletters.db'), 1000, clock)
    onTestFinished(() => store.close())
    expect(store.journalPos).toBe(3)
    const hook = deadLetterOnce(store, undefined)
    hook(bad('s/9/t'))
    expect([store.journalPos, store.total]).toEqual([0, 4])
  })
})
