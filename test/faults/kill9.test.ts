import { openSqliteOutbox } from '@fogline/outbox'
import { runTsChild, startFaultProxy, tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { expectExactlyOnce, LONG, startTestCloud } from './helpers.js'

const CHILD = 'test/faults/child-node.ts'
const STREAMS = ['event', 'summary', 'raw'] as const

describe('kill -9 loop (outbox + uplink child with a fast producer)', () => {
  const rounds = LONG ? 100 : 12
  it(
    `a node killed -9 ${rounds} times during ingest and drain loses no committed record and stores none twice`,
    async () => {
      const d = tempDir('fogline-faults-', onTestFinished)
      const cloud = await startTestCloud(d)
      const proxy = await startFaultProxy(Number(new URL(cloud.url).port))
      onTestFinished(() => proxy.close())
      const committed: Record<string, number> = { event: 0, summary: 0, raw: 0 }
      let kills = 0
      for (let i = 0; i < rounds; i++) {
        // every third round drains a backlog without new records; some rounds run with the link cut, so
        // a backlog builds up for the drain rounds
        const mode = i % 3 === 2 ? 'drain' : 'ingest'
        if (i % 4 === 1) proxy.cut()
        else proxy.pass()
        const child = runTsChild(CHILD, [d.path, proxy.url, mode])
        onTestFinished(() => child.kill9())
        await child.waitForLine(/^ready /)
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 300)) // chaos pacing: kill at a random moment
        await child.kill9()
        kills++
        for (const m of child.output().matchAll(/^committed (\w+) (\d+)$/gm))
          committed[m[1]!] = Math.max(committed[m[1]!]!, Number(m[2]))
        // the file opens cleanly every time, and nothing the child saw committed is gone
        const ob = await openSqliteOutbox({ path: d.file('outbox.db') })
        expect(ob.quarantined).toBeNull()
        for (const s of STREAMS) {
          expect(ob.lastSeq(s)).toBeGreaterThanOrEqual(committed[s]!)
          const stored = cloud.seqs('kill9', s)
          if (stored.length) expect(stored[stored.length - 1]!).toBeLessThanOrEqual(ob.lastSeq(s))
        }
        const st = ob.stats()
        expect(st.records).toBe(st.appended - st.acked - Object.values(st.dropped).reduce((a, b) => a + b, 0))
        await ob.close()
      }
      expect(kills).toBe(rounds)
      // final drain: everything ever committed reaches the store exactly once
      proxy.pass()
      const last = runTsChild(CHILD, [d.path, proxy.url, 'drain'])
      onTestFinished(() => last.kill9())
      await last.waitForLine(/^drained$/, 30_000)
      await last.kill9()
      const ob = await openSqliteOutbox({ path: d.file('outbox.db') })
      onTestFinished(() => ob.close())
      expect(ob.stats().records).toBe(0)
      for (const s of STREAMS) {
        expect(ob.lastSeq(s)).toBeGreaterThan(0)
        expectExactlyOnce(cloud.seqs('kill9', s), ob.lastSeq(s))
      }
      expect(cloud.deadLetters('kill9')).toBe(0)
      // a child takes ~1-2 s to start on a busy 2-core box
    },
    60_000 + rounds * 4_000,
  )
})
