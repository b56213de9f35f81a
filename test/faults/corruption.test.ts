import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs'
import { openSqliteOutbox } from '@fogline/outbox'
import { tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fogSide, startTestCloud, summary } from './helpers.js'

describe('corrupt outbox file', () => {
  it('a byte-flipped outbox is quarantined and reported, and the node goes on delivering with a fresh one', async () => {
    const d = tempDir('fogline-faults-', onTestFinished)
    const cloud = await startTestCloud(d)
    // a first life delivers 100 summaries and leaves 200 unsent
    const first = await openSqliteOutbox({ path: d.file('outbox.db') })
    await first.append(
      Array.from({ length: 300 }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summary(i) })),
    )
    first.ack('summary', [[1, 100]])
    await first.close()
    // flip bytes across a b-tree page in the middle of the file
    const size = statSync(d.file('outbox.db')).size
    const fd = openSync(d.file('outbox.db'), 'r+')
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, Math.floor(size / 4096 / 2) * 4096)
    closeSync(fd)

    const { outbox, uplink } = await fogSide(d, [cloud.url])
    expect(outbox.quarantined?.code).toBe('FOG_OUTBOX_CORRUPT')
    expect(existsSync(outbox.quarantined!.movedTo)).toBe(true)
    expect(outbox.stats().quarantined).not.toBeNull()
    uplink.start()
    const r = await outbox.append(
      Array.from({ length: 50 }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summary(1000 + i) })),
    )
    await waitFor(() => cloud.seqs('n1', 'summary').length === 50, 'new records delivered')
    // the fresh seqs are far above the old ones, so the cloud never takes them for resends of the old file
    expect(cloud.seqs('n1', 'summary')).toEqual(r.map((x) => x.seq))
    expect(r[0]!.seq).toBeGreaterThan(300)
  })
})
