import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { downTopic, encodeMessage, generateDesiredKeyPair, signDesired } from '@fogline/protocol'
import { fakeClock } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { api, cli, dir, pipe, push, simNode, testCloud, trusted, until } from './helpers.js'

/** Publish an envelope straight to the cloud's broker, as someone who got past the API would. */
async function publishRaw(brokerUrl: string, topic: string, envelope: unknown) {
  const c = await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0 })
  onTestFinished(() => c.endAsync(true))
  await c.publishAsync(topic, encodeMessage(envelope), { qos: 1 })
}

describe('key sets: rotation, expiry and scopes, end to end (cloud, broker, node agent on the real uplink)', () => {
  it('the old key signs a rotation to a new key (fogline keys rotate); documents it signs past its not-after are refused by cloud and node', async () => {
    const t0 = Date.now()
    const old = generateDesiredKeyPair()
    const cloud = await testCloud(dir(), old, [trusted(old, { notAfter: t0 + 3_600_000 })])
    // the node's clock is the injected one: the test moves it past the old key's not-after
    const clock = fakeClock(t0)
    const n1 = await simNode(cloud.brokerUrl, {
      nodeId: 'n1',
      group: 'g',
      publicKey: old.publicKeyPem,
      keys: [trusted(old, { notAfter: t0 + 3_600_000 })],
      clock,
      windowMs: 0,
    })
    await until(() => n1.uplink.stats().connected, 'n1 connected')
    expect((await push(cloud, { target: { node: 'n1' }, pipelines: [pipe('v1')] })).status).toBe(201)
    await until(() => n1.agent.appliedVersion() === 1, 'v1 applied')

    // rotate: the new key for everything, the old one kept for one more minute; signed by the old key
    const fresh = generateDesiredKeyPair()
    const grace = t0 + 60_000
    const d = dir()
    const set = join(d, 'keyset.yaml')
    writeFileSync(
      set,
      `- publicKey: ${fresh.publicKeyRaw}\n  scopes: [pipelines, models, uplink]\n  notAfter: ${new Date(t0 + 365 * 86_400_000).toISOString()}\n` +
        `- publicKey: ${old.publicKeyRaw}\n  scopes: [pipelines, models, uplink]\n  notAfter: ${grace}\n`,
    )
    const oldFile = join(d, 'old.key.pem')
    writeFileSync(oldFile, old.privateKeyPem, { mode: 0o600 })
    const rot = await cli('keys', [
      'rotate',
      '--node',
      'n1',
      '--set',
      set,
      '--key',
      oldFile,
      '--url',
      cloud.httpUrl,
      '--token',
      cloud.token,
    ])
    expect(rot.err).toBe('')
    expect(rot.out).toMatch(new RegExp(`rotation version 2 \\(2 keys\\) signed with key ${old.keyId}`))
    await until(() => n1.agent.appliedVersion() === 2, 'rotation applied')
    // the cloud follows the rotation too
    const trustedNow = (await api(cloud.httpUrl, 'GET', '/api/keys')).body as Array<{
      keyId: string
      notAfter: number
    }>
    expect(trustedNow.map((k) => k.keyId).sort()).toEqual([fresh.keyId, old.keyId].sort())

    // the new key works
    expect(
      (await push(cloud, { target: { node: 'n1' }, pipelines: [pipe('v3-new-key')] }, fresh.privateKeyPem))
        .status,
    ).toBe(201)
    await until(() => n1.agent.appliedVersion() === 3, 'v3 (new key) applied')

    // the old key after its not-after: the cloud refuses it at the API …
    const late = await api(
      cloud.httpUrl,
      'POST',
      '/api/desired',
      signDesired(
        { version: 4, target: { node: 'n1' }, createdAt: grace + 1, pipelines: [pipe('late')] },
        old.privateKeyPem,
      ),
    )
    expect(late).toMatchObject({ status: 400, body: { error: { code: 'FOG_KEY_EXPIRED' } } })
    // … and the node refuses it straight from the broker (someone holding the old key past the API)
    await publishRaw(
      cloud.brokerUrl,
      downTopic('n1', 'desired'),
      signDesired(
        { version: 50, target: { node: 'n1' }, createdAt: grace + 1, pipelines: [pipe('late')] },
        old.privateKeyPem,
      ),
    )
    await until(() => n1.reports.some((r) => r.version === 50), 'report on version 50')
    expect(n1.reports.find((r) => r.version === 50)).toMatchObject({
      status: 'rejected',
      code: 'FOG_KEY_EXPIRED',
    })
    // backdated (createdAt before the not-after) but arriving once the node's clock is past it: refused too
    clock.set(grace + 5_000)
    await publishRaw(
      cloud.brokerUrl,
      downTopic('n1', 'desired'),
      signDesired(
        { version: 51, target: { node: 'n1' }, createdAt: grace - 10_000, pipelines: [pipe('backdated')] },
        old.privateKeyPem,
      ),
    )
    await until(() => n1.reports.some((r) => r.version === 51), 'report on version 51')
    expect(n1.reports.find((r) => r.version === 51)).toMatchObject({
      status: 'rejected',
      code: 'FOG_KEY_EXPIRED',
    })
    expect(n1.running()).toEqual([pipe('v3-new-key')])
    // the reports reach the cloud with their reasons
    const view = await until(async () => {
      const r = await api(cloud.httpUrl, 'GET', '/api/desired?node=n1')
      return r.body.reports.some((x: { version: number }) => x.version === 51) ? r.body : null
    }, 'the rejections in the API')
    expect(view.reports.find((x: { version: number }) => x.version === 51)).toMatchObject({
      status: 'rejected',
      code: 'FOG_KEY_EXPIRED',
    })
  })

  it('a models-only key cannot change pipelines or uplink settings on the node, even published straight to the broker', async () => {
    const operator = generateDesiredKeyPair()
    const modelsKey = generateDesiredKeyPair()
    const set = [trusted(operator), trusted(modelsKey, { scopes: ['models'] })]
    const cloud = await testCloud(dir(), operator, set)
    const n1 = await simNode(cloud.brokerUrl, {
      nodeId: 'n1',
      group: 'g',
      publicKey: '',
      keys: set,
      windowMs: 0,
    })
    await until(() => n1.uplink.stats().connected, 'n1 connected')
    const model = { kind: 'gaussian', k: 4, sensors: { s1: { mean: 1, std: 1 } } }
    const doc = (version: number, content: Record<string, unknown>) =>
      signDesired(
        { version, target: { node: 'n1' }, createdAt: Date.now(), ...content },
        modelsKey.privateKeyPem,
      )
    const topic = downTopic('n1', 'desired')
    await publishRaw(cloud.brokerUrl, topic, doc(10, { pipelines: [pipe('evil')] }))
    await publishRaw(cloud.brokerUrl, topic, doc(11, { uplink: { linger: '5s' } }))
    await publishRaw(cloud.brokerUrl, topic, doc(12, { models: { m: model }, pipelines: [pipe('evil')] }))
    await publishRaw(cloud.brokerUrl, topic, doc(13, { keys: [trusted(modelsKey)] }))
    await until(() => [10, 11, 12, 13].every((v) => n1.reports.some((r) => r.version === v)), 'four reports')
    for (const v of [10, 11, 12, 13]) {
      const r = n1.reports.find((x) => x.version === v)
      expect(r, `version ${v}`).toMatchObject({ status: 'rejected', code: 'FOG_KEY_SCOPE' })
    }
    expect(n1.reports.find((x) => x.version === 10)?.reason).toMatch(/may sign models, not pipelines/)
    expect(n1.running()).toEqual([pipe('from-file')])
    // models alone: accepted
    await publishRaw(cloud.brokerUrl, topic, doc(14, { models: { m: model } }))
    await until(() => n1.reports.some((r) => r.version === 14), 'report on version 14')
    expect(n1.reports.find((x) => x.version === 14)).toMatchObject({ status: 'applied' })
  })
})
