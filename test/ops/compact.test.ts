import { readFileSync, statSync } from 'node:fs'
import { openSqliteOutbox } from '@fogline/outbox'
import { tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'

// bytes this process handed to write(2)/pwrite(2) so far (Linux): SQLite's WAL and checkpoint writes
const written = () => Number(/^wchar: (\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))![1])

describe('outbox compaction (housekeeping)', () => {
  it('gives free pages back in bounded steps: one step of 1 MiB writes at most ~2 MiB, whatever the file size', async () => {
    const dir = tempDir('fogline-compact-')
    onTestFinished(() => dir.remove())
    const outbox = await openSqliteOutbox({ path: dir.file('outbox.db'), config: { commitInterval: 1 } })
    onTestFinished(() => outbox.close())
    const body = { sensorId: 's1', metric: 't', value: 1, note: 'x'.repeat(200) }
    for (let b = 0; b < 40; b++)
      await outbox.append(
        Array.from({ length: 500 }, (_, i) => ({ stream: 'raw' as const, ts: b * 500 + i, body })),
      )
    // the newest 1,000 stay: their pages sit at the end of the file and must be moved, the costly case
    outbox.ack('raw', [[1, 19_000]])
    const size = statSync(dir.file('outbox.db')).size
    expect(size).toBeGreaterThan(4 * 1024 * 1024) // ~5 MiB of free pages now

    const step = 1024 * 1024
    const w0 = written()
    const r = outbox.compact(step)
    const bytes = written() - w0
    expect(r.mode).toBe('incremental')
    expect(r.pagesFreed).toBe(step / r.pageSize)
    expect(r.fileBytesBefore - r.fileBytesAfter).toBe(step)
    expect(bytes).toBeLessThanOrEqual(2 * step + 256 * 1024)
    // steps repeat until nothing is free: each bounded the same way
    let steps = 1
    while (outbox.compact(step).pagesFreed > 0) steps++
    expect(steps).toBeGreaterThanOrEqual(4)
    expect(statSync(dir.file('outbox.db')).size).toBeLessThan(size / 4)
  })
})
