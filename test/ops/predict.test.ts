import { statfsSync } from 'node:fs'
import { createPredictor, type Prediction } from '@fogline/node'
import { openSqliteOutbox } from '@fogline/outbox'
import { fakeClock, tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'

describe('outbox-full prediction', () => {
  it('under an outage with a growing backlog, the warning comes before the first drop', async () => {
    const dir = tempDir('fogline-predict-')
    onTestFinished(() => dir.remove())
    const clock = fakeClock()
    const t0 = clock.now()
    const capacityBytes = 256 * 1024
    // a real outbox on a small capacity; nothing drains it (the uplink is down)
    const outbox = await openSqliteOutbox({
      path: dir.file('outbox.db'),
      config: { capacityBytes, capacityRecords: 1_000_000 },
      clock,
    })
    onTestFinished(() => outbox.close())
    let warning: (Prediction & { fullAt: number; at: number }) | null = null
    const predictor = createPredictor({
      clock,
      capacityBytes,
      capacityRecords: 1_000_000,
      warnAhead: 60_000,
      trendOver: 30_000,
      onWarn: (p) => (warning = { ...p, at: clock.now() - t0 }),
    })

    let firstDropAt: number | null = null
    for (let s = 0; s < 600 && firstDropAt === null; s++) {
      // 40 raw readings a second, as a gateway with the link down keeps producing
      const items = Array.from({ length: 40 }, (_, i) => ({
        stream: 'raw' as const,
        ts: clock.now(),
        body: { sensorId: `s${i}`, metric: 'temp', value: 20 + (s % 7), ts: clock.now() },
      }))
      const done = outbox.append(items)
      await clock.advanceAsync(1000)
      await done
      const st = outbox.stats()
      const fs = statfsSync(dir.path)
      predictor.sample({ records: st.records, bytes: st.bytes, diskFreeBytes: fs.bavail * fs.bsize })
      if (Object.values(st.dropped).some((n) => n > 0)) firstDropAt = clock.now() - t0
    }
    expect(firstDropAt).not.toBeNull()
    expect(warning).not.toBeNull()
    const w = warning!
    // the warning came before the first drop, and about warnAhead before it (not on the first sample)
    expect(w.at).toBeLessThan(firstDropAt!)
    expect(firstDropAt! - w.at).toBeGreaterThan(30_000)
    expect(firstDropAt! - w.at).toBeLessThanOrEqual(61_000)
    expect(w.limit).toBe('capacityBytes')
    // and the predicted time was right to within a few seconds
    expect(Math.abs(w.fullAt - t0 - firstDropAt!)).toBeLessThan(5_000)
  })

  it('no warning while the backlog is flat or shrinking', () => {
    const clock = fakeClock()
    let warned = 0
    const p = createPredictor({
      clock,
      capacityBytes: 1000,
      capacityRecords: 100,
      warnAhead: 3_600_000,
      trendOver: 60_000,
      onWarn: () => warned++,
    })
    for (let i = 0; i < 30; i++) {
      p.sample({ records: 50 - i, bytes: 900 - i * 10, diskFreeBytes: 1e9 })
      clock.advance(1000)
    }
    expect(warned).toBe(0)
    expect(p.current().fullAt).toBeNull()
  })
})
