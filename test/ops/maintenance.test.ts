import { createDesiredAgent, createMaintenanceHold } from '@fogline/node'
import {
  ALL_SCOPES,
  type DesiredReport,
  downTopic,
  generateDesiredKeyPair,
  signDesired,
} from '@fogline/protocol'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'

const at = (iso: string) => Date.parse(iso)
const TOPIC = downTopic('n1', 'desired')
const keys = generateDesiredKeyPair()
const trusted = [{ publicKey: keys.publicKeyPem, scopes: [...ALL_SCOPES], notAfter: Date.UTC(2100, 0, 1) }]
const pipe = (id: string) => ({ id, input: ['sensors/+/+'] })
const doc = (version: number, extra: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify(
      signDesired(
        {
          version,
          target: { node: 'n1' },
          createdAt: at('2026-12-01T00:00:00Z') + version,
          pipelines: [pipe(`v${version}`)],
          ...extra,
        },
        keys.privateKeyPem,
      ),
    ),
  )

/** A real desired-state agent behind the maintenance hold, on the fake clock; state in a Map as the outbox KV. */
function setup(clock = fakeClock(at('2026-12-01T12:00:00Z')), kv = new Map<string, unknown>()) {
  const reports: DesiredReport[] = []
  let running: unknown = [pipe('from-file')]
  const state = {
    get: (k: string) => kv.get(k),
    put: async (k: string, v: unknown) => void kv.set(k, structuredClone(v)),
  }
  const agent = createDesiredAgent({
    nodeId: 'n1',
    group: 'g',
    keys: [
      {
        publicKey: keys.publicKeyPem,
        scopes: ['pipelines', 'models', 'uplink'],
        notAfter: at('2100-01-01T00:00:00Z'),
      },
    ],
    clock,
    getState: state.get,
    putState: state.put,
    applyPipelines: (p) => void (running = p),
    currentPipelines: () => running,
    health: () => ({ ok: true }),
    report: (r) => reports.push(r),
    healthWindowMs: 0,
  })
  onTestFinished(() => agent.close())
  const hold = createMaintenanceHold({
    clock,
    windows: [{ cron: '0 2 * * *', duration: 2 * 3_600_000, timezone: 'Etc/UTC' }],
    nodeId: 'n1',
    group: 'g',
    keys: trusted,
    state,
    report: (r) => reports.push(r),
    deliver: (t, p) => agent.handle(t, p),
    cronTriggers: false, // the check on the injected clock is what is tested
  })
  onTestFinished(() => hold.close())
  return { clock, kv, reports, hold, agent, running: () => running }
}

describe('maintenance windows for desired state', () => {
  it('a document arriving outside the window is verified, reported pending, and applied when the window opens', async () => {
    const n = setup()
    await n.hold.handle(TOPIC, doc(1))
    expect(n.reports).toEqual([
      {
        version: 1,
        status: 'pending',
        pendingUntil: at('2026-12-02T02:00:00Z'),
        target: { node: 'n1' },
        ts: at('2026-12-01T12:00:00Z'),
      },
    ])
    expect(n.running()).toEqual([pipe('from-file')])
    // the retained copy again after a reconnect: nothing new
    await n.hold.handle(TOPIC, doc(1))
    expect(n.reports).toHaveLength(1)

    await n.clock.advanceAsync(at('2026-12-02T01:59:00Z') - n.clock.now())
    expect(n.running()).toEqual([pipe('from-file')]) // not a minute early
    await n.clock.advanceAsync(60_000)
    await n.hold.check() // the check the interval started has finished
    expect(n.running()).toEqual([pipe('v1')])
    expect(n.reports.at(-1)).toMatchObject({
      version: 1,
      status: 'applied',
      appliedVersion: 1,
      ts: at('2026-12-02T02:00:00Z'),
    })
    expect(n.hold.status()).toEqual({ open: true, pending: null })
  })

  it('an urgent document is applied at once; a bad signature is rejected at once, never held', async () => {
    const n = setup()
    await n.hold.handle(TOPIC, doc(1, { urgent: true }))
    expect(n.running()).toEqual([pipe('v1')])
    expect(n.reports.map((r) => r.status)).toEqual(['applied'])
    const forged = JSON.parse(doc(2).toString()) as { sig: string }
    forged.sig = Buffer.alloc(64).toString('base64')
    await n.hold.handle(TOPIC, Buffer.from(JSON.stringify(forged)))
    expect(n.reports.map((r) => [r.status, r.code])).toEqual([
      ['applied', undefined],
      ['rejected', 'FOG_SIGNATURE_INVALID'],
    ])
  })

  it('a held document survives a restart and is applied in the next window', async () => {
    const first = setup()
    await first.hold.handle(TOPIC, doc(3))
    first.hold.close()
    first.agent.close()
    const clock = fakeClock(at('2026-12-02T02:30:00Z')) // the node was down until inside the window
    const again = setup(clock, first.kv)
    await again.hold.check()
    expect(again.running()).toEqual([pipe('v3')])
    expect(again.reports.at(-1)).toMatchObject({ version: 3, status: 'applied' })
  })
})
