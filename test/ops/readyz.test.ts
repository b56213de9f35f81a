import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { tempDir, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { countPipeline, testNode } from '../fleet.js'

// Root ignores file modes, so chmod cannot make a folder unwritable in CI (we run as root). An immutable
// folder (chattr +i, ext4) refuses even root: no file can be created in it, so SQLite's WAL cannot start
// and the readiness probe's access(W_OK) fails with EPERM.
const chattr = spawnSync('chattr', ['--help']).error === undefined
const CI = process.env['CI'] === 'true'

describe.skipIf(!chattr && !CI)('node /readyz (skipped: chattr from e2fsprogs is not installed)', () => {
  it('stays ready while the uplink is down, and turns not-ready with the reason when the outbox folder becomes unwritable', async () => {
    const dir = tempDir('fogline-readyz-')
    onTestFinished(() => dir.remove())
    // nothing listens on port 9: the node is offline from the start
    const node = await testNode(dir.path, 'r1', 'mqtt://127.0.0.1:9', {
      uplink: { reconnect: { min: '50ms', max: '200ms' } },
      ops: { http: { port: 0 } },
      pipelines: [countPipeline('p', 'sensors/+/+', 1)],
    })
    const dataDir = join(dir.path, 'r1')
    const url = node.ops!.httpUrl!
    const readyz = async () => {
      const r = await fetch(`${url}/readyz`)
      return {
        status: r.status,
        body: (await r.json()) as {
          ready: boolean
          reasons: Array<{ code: string; message: string; where: Record<string, unknown> }>
        },
      }
    }
    const sensor = await mqtt.connectAsync(node.brokerUrl, { reconnectPeriod: 0 })
    onTestFinished(() => sensor.endAsync(true))
    await sensor.publishAsync('sensors/s1/t', '1', { qos: 1 })
    await waitFor(() => node.stats().backlogRecords === 1, 'a summary held offline')
    expect(node.stats().connected).toBe(false)
    expect(await readyz()).toEqual({ status: 200, body: { ready: true, reasons: [] } })
    expect((await fetch(`${url}/healthz`)).status).toBe(200)

    execFileSync('chattr', ['+i', dataDir])
    onTestFinished(() => void spawnSync('chattr', ['-i', dataDir]))
    const bad = await waitFor(async () => {
      const r = await readyz()
      return r.status === 503 ? r : null
    }, '/readyz 503')
    expect(bad.body.ready).toBe(false)
    expect(bad.body.reasons).toEqual([
      {
        code: 'FOG_OUTBOX_UNWRITABLE',
        message: `the outbox cannot be written: ${dataDir} is not writable (EPERM)`,
        where: { file: dataDir },
      },
    ])
    expect((await fetch(`${url}/healthz`)).status).toBe(200) // alive, not ready: do not restart it for this

    execFileSync('chattr', ['-i', dataDir])
    await waitFor(async () => (await readyz()).status === 200, '/readyz ready again')
  })
})
