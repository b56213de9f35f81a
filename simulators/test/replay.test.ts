import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fakeClock, waitFor } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import { startSimulators } from '../src/index.js'
import { loadReplay } from '../src/replay.js'
import { brokerWithSubscriber, parseReading } from './helpers.js'

describe('replaying a labelled series (NAB format)', () => {
  it('publishes the rows in order and maps labelled windows onto the publish schedule', async () => {
    const { broker, sub, dir } = await brokerWithSubscriber()
    const rows = Array.from(
      { length: 100 },
      (_, i) =>
        `2014-04-01 ${String(Math.floor(i / 12)).padStart(2, '0')}:${String((i % 12) * 5).padStart(2, '0')}:00,${i < 40 || i >= 50 ? i : 1000 + i}`,
    )
    writeFileSync(join(dir, 's.csv'), `timestamp,value\n${rows.join('\n')}\n`)
    writeFileSync(
      join(dir, 'labels.json'),
      JSON.stringify({ 'x/s.csv': [['2014-04-01 03:20:00.000000', '2014-04-01 04:05:00.000000']] }),
    )
    const gt = join(dir, 'gt.jsonl')
    const clock = fakeClock()
    const sim = await startSimulators(
      {
        url: broker.url,
        groundTruth: gt,
        sensors: [
          {
            id: 'r',
            rate: 10,
            replay: { file: join(dir, 's.csv'), labels: join(dir, 'labels.json'), key: 'x/s.csv' },
          },
        ],
      },
      { clock },
    )
    await clock.advanceAsync(15_000)
    await sim.stop()
    // 100 rows then silence (no loop)
    expect(sim.stats().bySensor.r).toBe(100)
    await waitFor(() => sub.got.length >= 100, '100 readings received')
    const got = sub.got.map((m) => parseReading(m.payload)!)
    expect(got.map((r) => r.value)).toEqual(
      Array.from({ length: 100 }, (_, i) => (i < 40 || i >= 50 ? i : 1000 + i)),
    )
    const [truth] = readFileSync(gt, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(truth).toMatchObject({ sensor: 'r', kind: 'labelled', params: { startRow: 40, endRow: 50 } })
    // the labelled window covers exactly the anomalous readings as published
    const inside = got.filter((r) => r.ts >= truth.start && r.ts < truth.end)
    expect(inside.map((r) => r.value)).toEqual(Array.from({ length: 10 }, (_, i) => 1040 + i))
  })

  it('loads the bundled NAB series and its window', () => {
    const root = join(import.meta.dirname, '../../configs/scenarios/nab')
    const s = loadReplay({
      file: join(root, 'artificialWithAnomaly/art_daily_jumpsup.csv'),
      labels: join(root, 'combined_windows.json'),
    })
    expect(s.key).toBe('artificialWithAnomaly/art_daily_jumpsup.csv')
    expect(s.values.length).toBe(4032)
    expect(s.windows).toHaveLength(1)
    expect(s.windows[0]!.endRow).toBeGreaterThan(s.windows[0]!.startRow)
  })
})
