import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startTestCloud, VERBOSE } from './helpers.js'
import { countingNodeYaml, killLives } from './kill9-shared.js'

const CHECKPOINT_MS = 1000

async function killLoop(journal: boolean, rounds: number, qos: 1 | 2 = 1) {
  const d = tempDir('fogline-faults-', onTestFinished)
  const cloud = await startTestCloud(d)
  const nodeId = `q${qos}${journal ? 'on' : 'off'}`
  const dataDir = join(d.path, 'node')
  const cfg = d.file('node.yaml')
  const extra = `ingest: { journal: ${journal} }`
  writeFileSync(
    cfg,
    countingNodeYaml({ nodeId, dataDir, cloudUrl: cloud.url, checkpointMs: CHECKPOINT_MS, extra }),
  )
  const r = await killLives({
    cloud,
    cfg,
    nodeId,
    dataDir,
    rounds,
    checkpointMs: CHECKPOINT_MS,
    minLifeMs: 100,
    qos,
  })
  if (VERBOSE) console.log({ journal, ...r })
  return r
}

describe('kill -9 of a real fogline node under QoS 1 load (issue 12)', () => {
  it('journal on: 20 kills at random moments, every PUBACKed reading is counted exactly once in the cloud', async () => {
    const r = await killLoop(true, 20)
    expect(r.records).toBe(0)
    expect(r.acked).toBeGreaterThan(1000)
    // none lost: everything the node PUBACKed is counted
    expect(r.counted).toBeGreaterThanOrEqual(r.acked)
    // none twice: beyond the PUBACKed, at most the readings in flight at the kills (never resent) may count
    expect(r.counted).toBeLessThanOrEqual(r.sent)
    // bad readings alike: each PUBACKed one set aside, none twice (a replay used to set them aside again)
    expect(r.badAcked).toBeGreaterThan(100)
    expect(r.dead).toBeGreaterThanOrEqual(r.badAcked)
    expect(r.dead).toBeLessThanOrEqual(r.badSent)
  }, 150_000)

  it('journal off: the same kills lose PUBACKed readings (loss > 0 proves the test above can fail)', async () => {
    const r = await killLoop(false, 4)
    expect(r.records).toBe(0)
    expect(r.counted).toBeLessThan(r.acked)
  }, 90_000)

  it('QoS 2, journal on: 10 kills, every reading whose PUBREC came (PUBCOMPed) is counted exactly once', async () => {
    const r = await killLoop(true, 10, 2)
    expect(r.records).toBe(0)
    expect(r.acked).toBeGreaterThan(500)
    expect(r.counted).toBeGreaterThanOrEqual(r.acked)
    expect(r.counted).toBeLessThanOrEqual(r.sent)
  }, 120_000)

  it('QoS 2, journal off: the same kills lose PUBCOMPed readings (proves the test above can fail)', async () => {
    const r = await killLoop(false, 4, 2)
    expect(r.records).toBe(0)
    expect(r.counted).toBeLessThan(r.acked)
  }, 90_000)
})
