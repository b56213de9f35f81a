import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeBatch, upTopic } from '@fogline/protocol'
import { describe, expect, it, onTestFinished } from 'vitest'
import { summaryBody, type TestCloud, testClient, testCloud, until } from './helpers.js'

const T0 = 1_700_000_000_000

async function get(cloud: TestCloud, url: string): Promise<{ status: number; body: any }> {
  const r = await cloud.fetch(url)
  const text = await r.text()
  return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text }
}

describe('HTTP API over a real socket', () => {
  it('serves health, nodes, summaries with filters and resolution, events, dead letters, OpenAPI, metrics and /', async () => {
    const cloud = await testCloud()
    const b = (nodeId: string, seqs: number[]) => ({
      nodeId,
      stream: 'summary' as const,
      batchId: `b-${nodeId}`,
      sentAt: T0,
      records: seqs.map((seq) => ({
        seq,
        ts: T0,
        body: summaryBody(seq, { sensorId: seq % 2 ? 's1' : 's2' }),
      })),
    })
    await cloud.store.insertBatch(b('node-a', [1, 2, 3, 4]), T0)
    await cloud.store.insertBatch(b('node-b', [1, 2]), T0)
    await cloud.store.insertBatch(
      {
        nodeId: 'node-a',
        stream: 'event',
        batchId: 'e',
        sentAt: T0,
        records: [
          {
            seq: 1,
            ts: T0,
            body: {
              pipelineId: 'p1',
              sensorId: 's1',
              metric: 'temperature',
              ts: T0,
              kind: 'enter',
              name: 'hot',
              value: 31,
            },
          },
        ],
      },
      T0,
    )
    const u = cloud.httpUrl

    expect((await get(cloud, `${u}/api/health`)).body).toMatchObject({
      ok: true,
      store: 'sqlite',
      brokerConnected: true,
      nodes: 2,
    })
    const nodes = await get(cloud, `${u}/api/nodes`)
    expect(nodes.body.map((n: any) => [n.nodeId, n.summaries])).toEqual([
      ['node-a', 4],
      ['node-b', 2],
    ])

    const s = await get(cloud, `${u}/api/summaries?node=node-a&sensor=s1`)
    expect(s.status).toBe(200)
    expect(s.body.map((r: any) => r.seq)).toEqual([1, 3])
    expect(s.body[0]).toMatchObject({
      nodeId: 'node-a',
      seq: 1,
      pipelineId: 'p1',
      sensorId: 's1',
      metric: 'temperature',
      count: 10,
      min: 1,
      max: 10,
      mean: 5.5,
      sum: 55,
    })
    expect(
      (await get(cloud, `${u}/api/summaries?from=${T0 + 2000}&to=${new Date(T0 + 4000).toISOString()}`)).body,
    ).toHaveLength(3)
    expect((await get(cloud, `${u}/api/summaries?limit=2&node=node-a`)).body.map((r: any) => r.seq)).toEqual([
      3, 4,
    ])
    const ds = await get(cloud, `${u}/api/summaries?node=node-a&resolution=1m`)
    expect(ds.body.map((r: any) => [r.sensorId, r.count])).toEqual(
      expect.arrayContaining([
        ['s1', 20],
        ['s2', 20],
      ]),
    )
    expect(ds.body).toHaveLength(2)

    expect((await get(cloud, `${u}/api/events?node=node-a`)).body.map((e: any) => e.name)).toEqual(['hot'])
    expect((await get(cloud, `${u}/api/deadletters`)).body).toEqual([])

    const doc = await get(cloud, `${u}/openapi.json`)
    expect(doc.body.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/nodes',
        '/api/nodes/{id}',
        '/api/summaries',
        '/api/events',
        '/api/stream',
        '/api/deadletters',
      ]),
    )

    const m = await get(cloud, `${u}/metrics`)
    expect(m.status).toBe(200)
    expect(m.body).toContain('fogline_cloud_nodes_known 2')

    const home = await fetch(`${u}/`)
    expect(home.status).toBe(200)
    expect(home.headers.get('content-type')).toContain('text/html')
  })

  it('answers bad requests with a 4xx and a JSON { code, message, where }', async () => {
    const cloud = await testCloud()
    const u = cloud.httpUrl
    const cases: Array<[string, number, string, string?]> = [
      ['/api/summaries?from=yesterday', 400, 'FOG_API_BAD_REQUEST', 'query.from'],
      ['/api/summaries?limit=0', 400, 'FOG_API_BAD_REQUEST', 'query.limit'],
      ['/api/summaries?limit=abc', 400, 'FOG_API_BAD_REQUEST', 'query.limit'],
      ['/api/summaries?resolution=fast', 400, 'FOG_API_BAD_REQUEST', 'query.resolution'],
      ['/api/summaries?from=10&to=5', 400, 'FOG_API_BAD_REQUEST', 'query.from'],
      ['/api/summaries?nodes=a', 400, 'FOG_API_BAD_REQUEST', 'query.nodes'],
      ['/api/summaries?node=a&node=b', 400, 'FOG_API_BAD_REQUEST', 'query.node'],
      ['/api/summaries?node=bad%2Fid', 400, 'FOG_API_BAD_REQUEST', 'query.node'],
      ['/api/events?to=never', 400, 'FOG_API_BAD_REQUEST', 'query.to'],
      ['/api/nodes/ghost', 404, 'FOG_API_NOT_FOUND'],
      ['/api/no-such-route', 404, 'FOG_API_NOT_FOUND'],
    ]
    for (const [path, status, code, field] of cases) {
      const r = await get(cloud, `${u}${path}`)
      // every error is { error: { code, message, where } }
      expect({ path, status: r.status, code: r.body.error.code }).toEqual({ path, status, code })
      expect(typeof r.body.error.message).toBe('string')
      expect(r.body.error.where).toBeTypeOf('object')
      if (field) expect(r.body.error.where.field).toBe(field)
    }
    // demo controls exist only when the demo passes its hooks
    const post = await cloud.fetch(`${u}/api/demo/nodes/node-a/link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"up":false}',
    })
    expect(post.status).toBe(404)
    expect(((await post.json()) as any).error.code).toBe('FOG_API_NOT_FOUND')
    const broken = await cloud.fetch(`${u}/api/demo/nodes/node-a/link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"up":',
    })
    expect(broken.status).toBe(400)
    expect(((await broken.json()) as any).error.code).toBe('FOG_API_BAD_REQUEST')
  })

  it('drives the demo link hook: {up} validated, passed through', async () => {
    const calls: Array<[string, boolean]> = []
    const cloud = await testCloud({ demo: { setLink: (id, up) => void calls.push([id, up]) } })
    const post = (body: string) =>
      cloud.fetch(`${cloud.httpUrl}/api/demo/nodes/node-b/link`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    const bad = await post('{"up":"no"}')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error.where.field).toBe('body.up')
    const ok = await post('{"up":false}')
    expect(ok.status).toBe(200)
    expect(calls).toEqual([['node-b', false]])
  })

  it('streams live summaries and node changes over SSE, with comment heartbeats, and cleans up on close', async () => {
    const cloud = await testCloud({ sseHeartbeat: 100 })
    const ac = new AbortController()
    onTestFinished(() => ac.abort())
    // EventSource cannot send a header: the page asks for a one-use ticket and opens the stream with it
    const { ticket } = (await (
      await cloud.fetch(`${cloud.httpUrl}/api/stream/ticket`, { method: 'POST' })
    ).json()) as { ticket: string }
    const res = await fetch(`${cloud.httpUrl}/api/stream?ticket=${ticket}`, { signal: ac.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    let text = ''
    const reader = res.body!.getReader()
    const reading = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          text += Buffer.from(value).toString()
        }
      } catch {}
    })()
    await until(() => cloud.bus.listenerCount('summary') === 1, 'SSE subscribed')
    const node = await testClient(cloud.brokerUrl)
    const batch = {
      nodeId: 'node-a',
      stream: 'summary' as const,
      batchId: 'x',
      sentAt: T0,
      records: [{ seq: 1, ts: T0, body: summaryBody(1) }],
    }
    await node.publishAsync(upTopic('node-a', 'summary'), encodeBatch(batch), { qos: 1 })
    await until(
      () => text.includes('event: summary') && text.includes('event: node') && text.includes(': ping'),
      'summary, node and ping on the stream',
    )
    const line = text.split('\n').find((l, i, a) => a[i - 1] === 'event: summary' && l.startsWith('data: '))!
    expect(JSON.parse(line.slice(6))).toMatchObject({
      nodeId: 'node-a',
      seq: 1,
      sensorId: 's1',
      count: 10,
      mean: 5.5,
    })
    // a resend is not a new summary: nothing more on the stream
    const before = text.split('event: summary').length
    await node.publishAsync(upTopic('node-a', 'summary'), encodeBatch(batch), { qos: 1 })
    // a fresh seq sent after the resend marks when the resend has been handled: then exactly one more summary
    const next = { ...batch, batchId: 'y', records: [{ seq: 2, ts: T0, body: summaryBody(2) }] }
    await node.publishAsync(upTopic('node-a', 'summary'), encodeBatch(next), { qos: 1 })
    await until(() => text.includes('"seq":2'), 'the marker summary on the stream')
    expect(text.split('event: summary').length).toBe(before + 1)

    // the ticket was good for that one connection only
    const again = await fetch(`${cloud.httpUrl}/api/stream?ticket=${ticket}`)
    expect(again.status).toBe(401)
    expect(((await again.json()) as any).error.code).toBe('FOG_AUTH_REQUIRED')
    ac.abort()
    await reading
    await until(
      () => cloud.bus.listenerCount('summary') === 0 && cloud.bus.listenerCount('node') === 0,
      'listeners removed',
    )
  })
})

describe('dashboard files', () => {
  it('serves the dashboard folder at / and its files, and API 404s stay JSON', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fogline-dash-'))
    onTestFinished(() => rmSync(root, { recursive: true, force: true }))
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>dash</title>')
    writeFileSync(join(root, 'app.js'), 'console.log(1)')
    const cloud = await testCloud({ dashboardRoot: root })
    const home = await fetch(`${cloud.httpUrl}/`)
    expect(home.status).toBe(200)
    expect(await home.text()).toContain('<title>dash</title>')
    const js = await fetch(`${cloud.httpUrl}/app.js`)
    expect(js.headers.get('content-type')).toContain('javascript')
    const missing = await get(cloud, `${cloud.httpUrl}/api/nope`)
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'FOG_API_NOT_FOUND' } } })
    const missingFile = await get(cloud, `${cloud.httpUrl}/nope.css`)
    expect(missingFile).toMatchObject({ status: 404, body: { error: { code: 'FOG_API_NOT_FOUND' } } })
    expect((await get(cloud, `${cloud.httpUrl}/api/nodes`)).body).toEqual([])
  })
})
