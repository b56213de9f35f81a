import {
  decodeMessage,
  downTopic,
  encodeMessage,
  generateDesiredKeyPair,
  groupDesiredTopic,
  signDesired,
} from '@fogline/protocol'
import mqtt from 'mqtt'
import { describe, expect, it } from 'vitest'
import {
  api,
  bad,
  dir,
  FILE_PIPELINES,
  fleetKnows,
  groupNodes,
  pipe,
  push,
  retainedOn,
  rollout,
  rolloutSettled,
  signNext,
  simNode,
  testCloud,
  trusted,
  until,
} from './helpers.js'

type Reports = {
  reports: Array<{
    version: number
    status: string
    health: string | null
    code: string | null
    reason: string | null
  }>
}

describe('desired state through a real cloud (startCloud, aedes, SQLite) to a node agent on the real uplink', () => {
  it('POST /api/desired: signed, published, applied by the node, report visible in the API', async () => {
    const cloud = await testCloud()
    const n1 = await simNode(cloud.brokerUrl, { nodeId: 'n1', group: 'g1', publicKey: cloud.publicKeyPem })
    await until(() => n1.uplink.stats().connected, 'n1 connected')

    const post = await push(cloud, {
      target: { node: 'n1' },
      pipelines: [pipe('v-a')],
    })
    expect(post.status).toBe(201)
    expect(post.body).toMatchObject({ version: 1, target: { node: 'n1' }, topic: downTopic('n1', 'desired') })
    await until(() => JSON.stringify(n1.running()) === JSON.stringify([pipe('v-a')]), 'n1 runs v-a')

    const view = await until(async () => {
      const r = await api<Reports & { current: { version: number } }>(
        cloud.httpUrl,
        'GET',
        '/api/desired?node=n1',
      )
      return r.body.reports.some((x) => x.version === 1 && x.health === 'ok') ? r.body : null
    }, 'healthy report for version 1 in the API')
    expect(view.current.version).toBe(1)
    expect(view.reports[0]).toMatchObject({ version: 1, status: 'applied', health: 'ok' })
    // the fleet view carries the report too
    const node = await api(cloud.httpUrl, 'GET', '/api/nodes/n1')
    expect(node.status).toBe(200)
  })

  it('forged documents on the broker are rejected, reported to the cloud, and the old config keeps running', async () => {
    const cloud = await testCloud()
    const [n1] = await groupNodes(cloud, 'g1', ['n1'], { windowMs: 0 })
    await until(() => n1.uplink.stats().connected, 'n1 connected')
    await push(cloud, { target: { node: 'n1' }, pipelines: [pipe('good')] })
    await until(() => n1.agent.appliedVersion() === 1, 'version 1 applied')

    const attacker = await mqtt.connectAsync(cloud.brokerUrl, { reconnectPeriod: 0 })
    const evil = generateDesiredKeyPair()
    try {
      const forged = signDesired(
        { version: 99, target: { node: 'n1' }, createdAt: Date.now(), pipelines: [pipe('evil')] },
        evil.privateKeyPem,
      )
      await attacker.publishAsync(downTopic('n1', 'desired'), encodeMessage(forged), { qos: 1 })
      await until(() => n1.reports.some((r) => r.version === 99), 'report on the forged version')
      // the same forgery claiming the operator's key id: the signature does not match that key
      const v1env = (await api(cloud.httpUrl, 'GET', '/api/desired/1')).body.envelope
      const claimed = {
        ...signDesired(
          { version: 98, target: { node: 'n1' }, createdAt: Date.now(), pipelines: [pipe('evil')] },
          evil.privateKeyPem,
        ),
        keyId: v1env.keyId,
      }
      await attacker.publishAsync(downTopic('n1', 'desired'), encodeMessage(claimed), { qos: 1 })
      await until(() => n1.reports.some((r) => r.version === 98), 'report on the claimed-key forgery')
      // replay: the genuine version 1 again, after version 2
      await push(cloud, {
        target: { node: 'n1' },
        pipelines: [pipe('good-2')],
      })
      await until(() => n1.agent.appliedVersion() === 2, 'version 2 applied')
      const v1 = await api(cloud.httpUrl, 'GET', '/api/desired/1')
      await attacker.publishAsync(downTopic('n1', 'desired'), encodeMessage(v1.body.envelope), { qos: 1 })
      await until(() => n1.reports.some((r) => r.version === 1 && r.status === 'rejected'), 'replay rejected')
    } finally {
      await attacker.endAsync(true)
    }
    expect(n1.running()).toEqual([pipe('good-2')])
    const view = await until(async () => {
      const r = await api<Reports>(cloud.httpUrl, 'GET', '/api/desired?node=n1')
      return r.body.reports.some((x) => x.version === 1 && x.status === 'rejected') &&
        r.body.reports.some((x) => x.version === 99) &&
        r.body.reports.some((x) => x.version === 98)
        ? r.body
        : null
    }, 'rejections in the API')
    expect(view.reports.find((x) => x.version === 99)).toMatchObject({
      status: 'rejected',
      code: 'FOG_KEY_UNKNOWN',
    })
    expect(view.reports.find((x) => x.version === 99)?.reason).toContain(`key ${evil.keyId} is not trusted`)
    expect(view.reports.find((x) => x.version === 98)).toMatchObject({
      status: 'rejected',
      code: 'FOG_SIGNATURE_INVALID',
    })
    expect(view.reports.find((x) => x.version === 1)).toMatchObject({
      status: 'rejected',
      code: 'FOG_VERSION_REPLAY',
    })
  })

  it('a node offline during the push gets the newest applicable version (retained) when it connects', async () => {
    const cloud = await testCloud()
    const [n1, n2] = await groupNodes(cloud, 'g1', ['n1', 'n2'], { start: false })
    await push(cloud, { target: { node: 'n1' }, pipelines: [pipe('n1-only')] })
    await push(cloud, {
      target: { group: 'g1' },
      pipelines: [pipe('group-v2')],
    })
    await push(cloud, { target: { node: 'n1' }, pipelines: [pipe('n1-v3')] })
    n1.start()
    n2.start()
    await until(() => n1.agent.appliedVersion() === 3, 'n1 gets version 3 (its own, newer than the group)')
    await until(() => n2.agent.appliedVersion() === 2, 'n2 gets the group version 2')
    expect(n1.running()).toEqual([pipe('n1-v3')])
    expect(n2.running()).toEqual([pipe('group-v2')])
    // n1 saw the group's version 2 as well, older than its 3: refused, never applied
    await until(() => n1.reports.length >= 2, 'n1 handled both retained documents')
    expect(n1.reports.filter((r) => r.status === 'applied').map((r) => r.version)).toEqual([3])
  })

  it('canary rollout: a healthy canary proceeds to the whole group', async () => {
    const cloud = await testCloud()
    const nodes = await groupNodes(cloud, 'line', ['c1', 'r1', 'r2'])
    await fleetKnows(cloud, 3, 'fleet knows 3 nodes')
    const res = await rollout(cloud, {
      group: 'line',
      canary: ['c1'],
      timeoutMs: 10_000,
      doc: { pipelines: [pipe('rolled')] },
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ state: 'canary', canary: ['c1'], version: 1 })
    await until(() => nodes[0]!.agent.appliedVersion() === 1, 'canary applied')
    // while the canary is in its health window, the rest do not have it
    expect(nodes[0]!.agent.status().health).toBe('pending')
    expect(nodes[1]!.running()).toBe(FILE_PIPELINES)
    const done = await rolloutSettled(cloud, res.body.id, 'rollout finished')
    expect(done).toMatchObject({
      state: 'completed',
      canaryStatus: { c1: { status: 'applied', health: 'ok' } },
    })
    await until(
      () => nodes.every((n) => n.agent.appliedVersion() === 1),
      'every node of the group applied version 1',
    )
    const retained = await retainedOn(cloud.brokerUrl, [groupDesiredTopic('line')])
    expect(
      (decodeMessage(retained.get(groupDesiredTopic('line'))!) as { doc: { version: number } }).doc.version,
    ).toBe(1)
  })

  it('canary rollout: a canary that rolls back stops the rollout; the rest never get the version', async () => {
    const cloud = await testCloud()
    const [c1, c2, r1] = await groupNodes(cloud, 'line', ['c1', 'c2', 'r1'])
    await fleetKnows(cloud, 3, 'fleet knows 3 nodes')
    const res = await rollout(cloud, {
      group: 'line',
      canary: ['c1', 'c2'],
      timeoutMs: 10_000,
      doc: { pipelines: [bad('bad-config')] },
    })
    expect(res.status).toBe(201)
    const done = await rolloutSettled(cloud, res.body.id, 'rollout finished')
    expect(done.state).toBe('stopped')
    expect(done.reason).toMatch(
      /canary c[12] rolled-back: health check failed: pipeline bad-config dead-lettered \d+ of \d+ readings/,
    )
    await until(() => c1.reports.some((r) => r.status === 'rolled-back'), 'c1 rolled back')
    expect(c1.running()).toBe(FILE_PIPELINES)
    expect(r1.agent.appliedVersion()).toBeNull()
    // nothing of it is left retained for a node that connects later
    const retained = await retainedOn(cloud.brokerUrl, [
      groupDesiredTopic('line'),
      downTopic('c1', 'desired'),
      downTopic('c2', 'desired'),
    ])
    expect([...retained.keys()]).toEqual([])
    const g = await api(cloud.httpUrl, 'GET', '/api/desired?group=line')
    expect(g.body.current).toBeNull()
    expect(g.body.versions[0]).toMatchObject({ version: 1, status: 'stopped' })
    void c2
  })

  it('canary rollout: a canary whose pipeline has a mistyped input gets no readings, is rolled back, and the rollout stops before the rest of the group', async () => {
    const cloud = await testCloud()
    // every node runs pipeline from-file on sensors/+/+ and gets a reading every 5 ms
    const [c1, r1, r2] = await groupNodes(cloud, 'line', ['c1', 'r1', 'r2'])
    await fleetKnows(cloud, 3, 'fleet knows 3 nodes')
    // a valid config, so it passes every schema check: only its input is wrong
    const typo = { id: 'from-file', input: ['sensros/+/+'] }
    const res = await rollout(cloud, {
      group: 'line',
      canary: ['c1'],
      timeoutMs: 10_000,
      doc: { pipelines: [typo] },
    })
    expect(res.status).toBe(201)
    await until(() => c1.agent.appliedVersion() === 1, 'the canary applied the typo')
    const done = await rolloutSettled(cloud, res.body.id, 'rollout finished')
    expect(done.state).toBe('stopped')
    expect(done.reason).toMatch(
      /canary c1 rolled-back: health check failed: pipeline from-file got no input in the health window \(it had \d+ readings in the [\d.]+ s before the change\)/,
    )
    expect(done.reason).toMatch(/pipeline from-file made 0 outputs in [\d.]+ s, expected about \d+/)
    const back = c1.reports.find((r) => r.status === 'rolled-back')
    expect(back).toMatchObject({ version: 1, code: 'FOG_HEALTH_FAILED' })
    expect(c1.running()).toBe(FILE_PIPELINES)
    // the rest of the group never got it, and nothing is left retained for them
    expect(r1.agent.appliedVersion()).toBeNull()
    expect(r2.agent.appliedVersion()).toBeNull()
    expect(r1.reports).toEqual([])
    const retained = await retainedOn(cloud.brokerUrl, [
      groupDesiredTopic('line'),
      downTopic('c1', 'desired'),
    ])
    expect([...retained.keys()]).toEqual([])
  })

  it('canary rollout: a canary that does not report in time stops it; canaryCount picks known nodes', async () => {
    const cloud = await testCloud()
    const a = await simNode(cloud.brokerUrl, { nodeId: 'a', group: 'line', publicKey: cloud.publicKeyPem })
    await fleetKnows(cloud, 1, 'fleet knows a')
    await a.stop()
    const res = await rollout(cloud, {
      group: 'line',
      canaryCount: 1,
      timeoutMs: 300,
      doc: { pipelines: [pipe('x')] },
    })
    expect(res.body).toMatchObject({ canary: ['a'], state: 'canary' })
    const done = await rolloutSettled(cloud, res.body.id, 'rollout timed out')
    expect(done).toMatchObject({ state: 'stopped' })
    expect(done.reason).toContain('did not report applied and healthy within 300 ms')
  })

  it('bad requests get a 4xx with a code; unknown things a 404', async () => {
    const cloud = await testCloud()
    const signed = (content: Record<string, unknown>) => signNext(cloud, { node: 'n1' }, content)
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/desired', {}, 400, 'FOG_SIGNATURE_MISSING'],
      ['POST', '/api/desired', await signed({}), 400, 'FOG_DESIRED_INVALID'],
      ['POST', '/api/desired', await signed({ pipelines: [{ id: 'p' }] }), 400, 'FOG_DESIRED_INVALID'],
      ['POST', '/api/rollouts', { canary: ['a'], envelope: {} }, 400, 'FOG_API_BAD_REQUEST'],
      ['GET', '/api/desired', undefined, 400, 'FOG_API_BAD_REQUEST'],
      ['GET', '/api/desired/7', undefined, 404, 'FOG_API_NOT_FOUND'],
      ['GET', '/api/rollouts/nope', undefined, 404, 'FOG_API_NOT_FOUND'],
    ]
    for (const [method, path, body, status, code] of cases) {
      const r = await api(cloud.httpUrl, method as 'GET', path, body)
      expect({ path, status: r.status, code: r.body.error.code }).toEqual({ path, status, code })
      expect(typeof r.body.error.message).toBe('string')
    }
    const none = await rollout(cloud, { group: 'nobody', canaryCount: 1, doc: { pipelines: [pipe('p')] } })
    expect(none).toMatchObject({ status: 400, body: { error: { code: 'FOG_API_BAD_REQUEST' } } })
    // a stale version (another operator was first) names the next one
    const stale = await signed({ pipelines: [pipe('a')] })
    expect((await push(cloud, { target: { node: 'n1' }, pipelines: [pipe('b')] })).status).toBe(201)
    const replay = await api(cloud.httpUrl, 'POST', '/api/desired', stale)
    expect(replay).toMatchObject({
      status: 409,
      body: { error: { code: 'FOG_VERSION_REPLAY', where: { next: 2 } } },
    })
    const doc = await api(cloud.httpUrl, 'GET', '/openapi.json')
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/desired', '/api/desired/next', '/api/keys', '/api/rollouts/{id}']),
    )
  })

  it('with the API fully reachable, a document not signed by a trusted operator key is refused by the cloud, stored nowhere and published nowhere', async () => {
    const cloud = await testCloud()
    const n1 = await simNode(cloud.brokerUrl, { nodeId: 'n1', group: 'g1', publicKey: cloud.publicKeyPem })
    await until(() => n1.uplink.stats().connected, 'n1 connected')
    const evil = generateDesiredKeyPair()
    const target = { node: 'n1' }
    // an operator token is not enough: unsigned, signed by an unknown key, tampered after signing
    const unsigned = { version: 1, target, createdAt: Date.now(), pipelines: [pipe('evil')] }
    const unknownKey = await signNext(cloud, target, { pipelines: [pipe('evil')] }, evil.privateKeyPem)
    const genuine = await signNext(cloud, target, { pipelines: [pipe('good')] })
    const tampered = { ...genuine, doc: { ...genuine.doc, pipelines: [pipe('evil')] } }
    // the attacker claims the operator's key id on their own signature
    const claimed = { ...unknownKey, keyId: genuine.keyId }
    const tries: Array<[unknown, string]> = [
      [unsigned, 'FOG_SIGNATURE_MISSING'],
      [{ doc: unsigned }, 'FOG_SIGNATURE_MISSING'],
      [unknownKey, 'FOG_KEY_UNKNOWN'],
      [tampered, 'FOG_SIGNATURE_INVALID'],
      [claimed, 'FOG_SIGNATURE_INVALID'],
    ]
    for (const [body, code] of tries) {
      const r = await api(cloud.httpUrl, 'POST', '/api/desired', body)
      expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 400, code })
    }
    // the rollout route checks the same way
    const viaRollout = await api(cloud.httpUrl, 'POST', '/api/rollouts', {
      group: 'g1',
      canary: ['n1'],
      envelope: await signNext(cloud, { group: 'g1' }, { pipelines: [pipe('evil')] }, evil.privateKeyPem),
    })
    expect(viaRollout).toMatchObject({ status: 400, body: { error: { code: 'FOG_KEY_UNKNOWN' } } })
    expect((await api(cloud.httpUrl, 'GET', '/api/desired?node=n1')).body.versions).toEqual([])
    expect([...(await retainedOn(cloud.brokerUrl, [downTopic('n1', 'desired')])).keys()]).toEqual([])
    expect(n1.reports).toEqual([])
    expect(n1.running()).toBe(FILE_PIPELINES)
    // every refusal is in the audit log with its code
    const audit = (await api(cloud.httpUrl, 'GET', '/api/audit?action=desired.create')).body as Array<{
      result: string
    }>
    expect(audit.map((a) => a.result)).toEqual([
      'FOG_SIGNATURE_INVALID',
      'FOG_SIGNATURE_INVALID',
      'FOG_KEY_UNKNOWN',
      'FOG_SIGNATURE_MISSING',
      'FOG_SIGNATURE_MISSING',
    ])
    // the genuine one goes through
    expect((await api(cloud.httpUrl, 'POST', '/api/desired', genuine)).status).toBe(201)
    await until(
      () => JSON.stringify(n1.running()) === JSON.stringify([pipe('good')]),
      'n1 runs the genuine version',
    )
  })

  it('a models-only key held by the cloud side can push models, never pipelines or uplink settings', async () => {
    const operator = generateDesiredKeyPair()
    const modelsKey = generateDesiredKeyPair()
    const cloud = await testCloud(dir(), operator, [
      trusted(operator),
      trusted(modelsKey, { scopes: ['models'] }),
    ])
    const as = (content: Record<string, unknown>) =>
      push(cloud, { target: { group: 'g' }, ...content }, modelsKey.privateKeyPem)
    const model = { kind: 'gaussian', k: 4, sensors: { s1: { mean: 1, std: 1 } } }
    expect((await as({ models: { m: model } })).status).toBe(201)
    for (const content of [
      { pipelines: [pipe('x')] },
      { uplink: { linger: '20ms' } },
      { models: { m: model }, pipelines: [pipe('x')] },
    ]) {
      const r = await as(content)
      expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 403, code: 'FOG_KEY_SCOPE' })
    }
    // nor rotate keys (it could drop the operator's key or add a pipelines key)
    const rot = await as({ keys: [trusted(modelsKey, { scopes: ['models', 'pipelines'] })] })
    expect(rot.body.error.code).toBe('FOG_KEY_SCOPE')
  })

  it('rollback: a new signed version with old content, marked rollback; a restarted cloud republishes', async () => {
    const cloud = await testCloud()
    await push(cloud, { target: { group: 'g' }, pipelines: [pipe('one')] })
    await push(cloud, { target: { group: 'g' }, pipelines: [pipe('two')] })
    const v1 = (await api(cloud.httpUrl, 'GET', '/api/desired/1')).body
    const rb = await push(cloud, { target: { group: 'g' }, pipelines: v1.doc.pipelines, rollback: true })
    expect(rb.body).toMatchObject({ version: 3, doc: { rollback: true, pipelines: [pipe('one')] } })
    await cloud.stop()
    // same store and operator key: the embedded broker lost its retained messages, the cloud publishes them again
    const again = await testCloud(cloud.dir, cloud.operator)
    const n = await simNode(again.brokerUrl, { nodeId: 'late', group: 'g', publicKey: again.publicKeyPem })
    await until(() => n.agent.appliedVersion() === 3, 'late node gets version 3')
    expect(n.running()).toEqual([pipe('one')])
  })
})
