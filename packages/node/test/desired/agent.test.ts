import { openSqliteOutbox } from '@fogline/outbox'
import {
  ALL_SCOPES,
  type DesiredReport,
  type DesiredState,
  downTopic,
  encodeMessage,
  FoglineError,
  generateDesiredKeyPair,
  groupDesiredTopic,
  PipelinesConfig,
  signDesired,
} from '@fogline/protocol'
import { fakeClock, tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createDesiredAgent, DESIRED_STATE_KEY } from '../../src/desired/agent.js'

const keys = generateDesiredKeyPair()
const FAR = Date.UTC(2100, 0, 1)
const T0 = 1_764_374_400_000
const NODE = 'node-a'
const GROUP = 'line-1'
const nodeTopic = downTopic(NODE, 'desired')
const groupTopic = groupDesiredTopic(GROUP)

const pipe = (id: string) => ({ id, input: ['sensors/+/+'] })
const FILE_PIPELINES = [pipe('from-file')]

/**
 * A node stand-in with a real SQLite outbox for the agent's state. Pipelines are checked with the shared
 * PipelinesConfig schema (the engine's own check is stricter) and a pipeline whose id starts with "bad"
 * makes health() fail, as an erroring pipeline would.
 */
async function harness(dir: string, opts: { publicKey?: string; windowMs?: number } = {}) {
  const outbox = await openSqliteOutbox({ path: `${dir}/outbox.db` })
  const clock = fakeClock(T0)
  let running: unknown = FILE_PIPELINES
  const reports: DesiredReport[] = []
  const make = () =>
    createDesiredAgent({
      nodeId: NODE,
      group: GROUP,
      keys:
        'publicKey' in opts
          ? opts.publicKey && [{ publicKey: opts.publicKey, scopes: [...ALL_SCOPES], notAfter: FAR }]
          : [{ publicKey: keys.publicKeyPem, scopes: [...ALL_SCOPES], notAfter: FAR }],
      clock,
      getState: (k) => outbox.getState(k),
      putState: (k, v) => outbox.putState(k, v),
      applyPipelines(p) {
        const r = PipelinesConfig.safeParse(p)
        if (!r.success)
          throw new FoglineError('FOG_CONFIG_INVALID', `pipelines: ${r.error.issues[0]?.message}`, {
            field: 'pipelines',
          })
        running = p
      },
      currentPipelines: () => running,
      health() {
        const bad = (running as Array<{ id: string }>).find((p) => p.id.startsWith('bad'))
        return bad ? { ok: false, reason: `pipeline ${bad.id} errors on every reading` } : { ok: true }
      },
      report: (b) => reports.push(b as DesiredReport),
      healthWindowMs: opts.windowMs ?? 3000,
      healthCheckMs: 500,
    })
  let agent = make()
  onTestFinished(async () => {
    agent.close()
    await outbox.close()
  })
  return {
    clock,
    reports,
    outbox,
    running: () => running,
    get agent() {
      return agent
    },
    restart() {
      agent.close()
      running = FILE_PIPELINES
      agent = make()
    },
    /** let the agent's queued work run */
    async settle() {
      for (let i = 0; i < 5; i++) await agent.handle('ignored/topic', Buffer.alloc(0))
    },
  }
}

const doc = (version: number, over: Partial<DesiredState> = {}): DesiredState => ({
  version,
  target: { node: NODE },
  createdAt: T0 + version * 1000,
  pipelines: [pipe(`v${version}`)],
  ...over,
})
const wire = (d: DesiredState, key = keys.privateKeyPem) => encodeMessage(signDesired(d, key))
const last = (r: DesiredReport[]) => r[r.length - 1]

describe('desired-state agent (real SQLite outbox state)', () => {
  it('applies a valid document atomically, reports applied, then healthy after the window', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(1)))
    expect(h.running()).toEqual([pipe('v1')])
    expect(h.agent.appliedVersion()).toBe(1)
    expect(last(h.reports)).toMatchObject({
      version: 1,
      status: 'applied',
      health: 'pending',
      appliedVersion: 1,
    })
    h.clock.advance(3000)
    await h.settle()
    expect(last(h.reports)).toMatchObject({ version: 1, status: 'applied', health: 'ok' })
    expect(h.agent.status()).toMatchObject({
      appliedVersion: 1,
      health: 'ok',
      lastGoodVersion: 1,
      highestVersion: 1,
    })
    // also accepted as JSON text (mosquitto_pub friendly)
    await h.agent.handle(nodeTopic, Buffer.from(JSON.stringify(signDesired(doc(2), keys.privateKeyPem))))
    expect(h.agent.appliedVersion()).toBe(2)
  })

  it('rejects a tampered document, a wrong key, a replayed older version and an equal one; the old config keeps running', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(5)))
    const running = h.running()

    const env = signDesired(doc(6), keys.privateKeyPem)
    const tampered = { ...env, doc: { ...env.doc, pipelines: [pipe('evil')] } }
    await h.agent.handle(nodeTopic, encodeMessage(tampered))
    expect(last(h.reports)).toMatchObject({
      version: 6,
      status: 'rejected',
      code: 'FOG_SIGNATURE_INVALID',
      appliedVersion: 5,
    })
    expect(last(h.reports)?.reason).toContain('tampered')

    const other = generateDesiredKeyPair()
    await h.agent.handle(nodeTopic, wire(doc(7), other.privateKeyPem))
    expect(last(h.reports)).toMatchObject({ version: 7, status: 'rejected', code: 'FOG_KEY_UNKNOWN' })
    expect(last(h.reports)?.reason).toContain(other.keyId)

    await h.agent.handle(nodeTopic, wire(doc(3)))
    expect(last(h.reports)).toMatchObject({ version: 3, status: 'rejected', code: 'FOG_VERSION_REPLAY' })
    await h.agent.handle(groupTopic, wire(doc(5, { target: { group: GROUP }, pipelines: [pipe('other')] })))
    expect(last(h.reports)).toMatchObject({ version: 5, status: 'rejected', code: 'FOG_VERSION_REPLAY' })

    expect(h.running()).toBe(running)
    expect(h.agent.appliedVersion()).toBe(5)
    // a newer valid one still goes through afterwards
    await h.agent.handle(nodeTopic, wire(doc(8)))
    expect(h.running()).toEqual([pipe('v8')])
  })

  it('ignores the same retained document delivered again (reconnect) without a report', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    const w = wire(doc(1))
    await h.agent.handle(nodeTopic, w)
    const n = h.reports.length
    await h.agent.handle(nodeTopic, w)
    await h.agent.handle(nodeTopic, Buffer.alloc(0)) // a cleared retained topic
    expect(h.reports.length).toBe(n)
  })

  it('rejects a schema-invalid document, one for another node, and pipelines the node refuses', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(1)))
    await h.agent.handle(nodeTopic, wire(doc(2, { target: { node: 'node-b' } })))
    expect(last(h.reports)).toMatchObject({ version: 2, status: 'rejected', code: 'FOG_DESIRED_INVALID' })
    expect(last(h.reports)?.reason).toContain('node-b')
    await h.agent.handle(nodeTopic, wire(doc(3, { pipelines: [{ id: 'x', input: [] }] })))
    expect(last(h.reports)).toMatchObject({ version: 3, status: 'rejected', code: 'FOG_CONFIG_INVALID' })
    await h.agent.handle(nodeTopic, Buffer.from('{"doc":'))
    expect(last(h.reports)).toMatchObject({ status: 'rejected', code: 'FOG_DESIRED_INVALID' })
    expect(h.running()).toEqual([pipe('v1')])
    // a node without keys accepts nothing
    using dir2 = tempDir()
    const nokey = await harness(dir2.path, { publicKey: undefined })
    await nokey.agent.handle(nodeTopic, wire(doc(1)))
    expect(last(nokey.reports)).toMatchObject({ status: 'rejected', code: 'FOG_KEY_UNKNOWN' })
    expect(nokey.running()).toBe(FILE_PIPELINES)
  })

  it('rolls back to the last good version when the new one fails its health check', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(1)))
    h.clock.advance(3000)
    await h.settle()
    expect(h.agent.status().lastGoodVersion).toBe(1)

    await h.agent.handle(nodeTopic, wire(doc(2, { pipelines: [pipe('bad-one')] })))
    expect(h.running()).toEqual([pipe('bad-one')])
    h.clock.advance(500)
    await h.settle()
    expect(h.running()).toEqual([pipe('v1')])
    expect(last(h.reports)).toMatchObject({
      version: 2,
      status: 'rolled-back',
      code: 'FOG_HEALTH_FAILED',
      appliedVersion: 1,
    })
    expect(last(h.reports)?.reason).toContain('bad-one errors on every reading')
    expect(h.agent.appliedVersion()).toBe(1)
    // the bad version cannot come back by replay
    await h.agent.handle(groupTopic, wire(doc(2, { target: { group: GROUP }, pipelines: [pipe('bad-one')] })))
    expect(last(h.reports)).toMatchObject({ version: 2, status: 'rejected', code: 'FOG_VERSION_REPLAY' })
  })

  it('rolls back to the node config file when the first document is unhealthy', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(1, { pipelines: [pipe('bad')] })))
    h.clock.advance(600)
    await h.settle()
    expect(h.running()).toBe(FILE_PIPELINES)
    expect(last(h.reports)).toMatchObject({ version: 1, status: 'rolled-back', appliedVersion: null })
    expect(h.agent.appliedVersion()).toBeNull()
  })

  it('takes an older version only when marked rollback and newer in time; such a rollback cannot be replayed', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(4)))
    const rb = wire(doc(2, { rollback: true, createdAt: T0 + 10_000, pipelines: [pipe('v2-again')] }))
    await h.agent.handle(nodeTopic, rb)
    expect(h.running()).toEqual([pipe('v2-again')])
    expect(h.agent.status()).toMatchObject({ appliedVersion: 2, highestVersion: 4 })
    // v3 is still below the high-water mark: no downgrade path through the rollback
    await h.agent.handle(nodeTopic, wire(doc(3)))
    expect(last(h.reports)).toMatchObject({ version: 3, code: 'FOG_VERSION_REPLAY' })
    // an old rollback document (created before what runs) is a replay
    await h.agent.handle(
      groupTopic,
      wire(doc(1, { target: { group: GROUP }, rollback: true, createdAt: T0 + 5000 })),
    )
    expect(last(h.reports)).toMatchObject({ version: 1, code: 'FOG_VERSION_REPLAY' })
  })

  it('node and group documents: the higher version wins, whichever topic it came on', async () => {
    using dir = tempDir()
    const h = await harness(dir.path, { windowMs: 0 })
    await h.agent.handle(nodeTopic, wire(doc(3)))
    await h.agent.handle(groupTopic, wire(doc(4, { target: { group: GROUP } })))
    expect(h.running()).toEqual([pipe('v4')])
    await h.agent.handle(groupTopic, wire(doc(6, { target: { group: 'line-2' } })))
    expect(h.agent.appliedVersion()).toBe(4) // another group's topic is not ours: ignored
    await h.agent.handle(nodeTopic, wire(doc(5)))
    expect(h.running()).toEqual([pipe('v5')])
    expect(last(h.reports)).toMatchObject({ version: 5, status: 'applied', health: 'ok' })
  })

  it('keeps applied and last good versions across a restart and re-applies the applied document', async () => {
    using dir = tempDir()
    const h = await harness(dir.path)
    await h.agent.handle(nodeTopic, wire(doc(1)))
    h.clock.advance(3000)
    await h.settle()
    const w2 = wire(doc(2))
    await h.agent.handle(nodeTopic, w2)
    h.clock.advance(3000)
    await h.settle()
    expect(h.outbox.getState(DESIRED_STATE_KEY)).toMatchObject({ highest: 2 })
    h.restart()
    expect(h.running()).toEqual([pipe('v2')])
    expect(h.agent.status()).toMatchObject({ appliedVersion: 2, lastGoodVersion: 2, highestVersion: 2 })
    const n = h.reports.length
    await h.agent.handle(nodeTopic, w2) // the retained copy after reconnect
    expect(h.reports.length).toBe(n)
    await h.agent.handle(nodeTopic, wire(doc(1)))
    expect(last(h.reports)).toMatchObject({ version: 1, code: 'FOG_VERSION_REPLAY' })
  })
})

describe('desired-state agent: partial documents', () => {
  it('a models-only document keeps the pushed pipelines across a restart and as the last good content', async () => {
    using dir = tempDir()
    const h = await harness(dir.path, { windowMs: 0 })
    await h.agent.handle(nodeTopic, wire(doc(1)))
    await h.agent.handle(nodeTopic, wire(doc(2, { pipelines: undefined, models: { vib: { mean: 1 } } })))
    expect(last(h.reports)).toMatchObject({
      version: 2,
      status: 'applied',
      reason: 'not applied by this node: models',
    })
    h.restart()
    expect(h.agent.appliedVersion()).toBe(2)
    expect(h.running()).toEqual([pipe('v1')])
  })
})
