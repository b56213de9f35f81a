import { join } from 'node:path'
import { bearerFetch, fakeClock } from '@fogline/testkit'
import Fastify from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAccess, installGuard, openSqliteAccessRepo, rulesFrom } from '../src/api/auth/index.js'
import { startCloud } from '../src/index.js'
import { createMetrics } from '../src/shared/index.js'
import { tempDir, testCloud } from './helpers.js'

type Who = 'none' | 'viewer' | 'operator' | 'admin'
const WHO: Who[] = ['none', 'viewer', 'operator', 'admin']

/**
 * The expected rule of every operation of GET /openapi.json. A route added to the API without a line here
 * fails the test below (and a route without an x-fogline-role fails the cloud's start, see further down).
 */
const EXPECTED: Record<string, 'public' | 'viewer' | 'operator' | 'admin'> = {
  'GET /api/health': 'public',
  'GET /openapi.json': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /api/nodes': 'viewer',
  'GET /api/nodes/{id}': 'viewer',
  'GET /api/summaries': 'viewer',
  'GET /api/models/fit': 'viewer',
  'GET /api/events': 'viewer',
  'GET /api/deadletters': 'viewer',
  'GET /api/stream': 'viewer',
  'GET /metrics': 'viewer',
  'GET /api/auth/me': 'viewer',
  'POST /api/stream/ticket': 'viewer',
  'GET /api/desired': 'viewer',
  'GET /api/desired/next': 'viewer',
  'GET /api/keys': 'viewer',
  'GET /api/desired/{version}': 'viewer',
  'GET /api/rollouts': 'viewer',
  'GET /api/rollouts/{id}': 'viewer',
  'POST /api/desired': 'operator',
  'POST /api/rollouts': 'operator',
  'POST /api/models/train': 'operator',
  'POST /api/demo/nodes/{id}/link': 'operator',
  'GET /api/audit': 'operator',
  'GET /api/tokens': 'admin',
  'POST /api/tokens': 'admin',
  'DELETE /api/tokens/{id}': 'admin',
}
const RANK = { none: 0, public: 0, viewer: 1, operator: 2, admin: 3 } as const

describe('API access: every route of the OpenAPI document × every role', () => {
  it('answers each role as the table says: allowed, or 401 FOG_AUTH_REQUIRED / 403 FOG_FORBIDDEN', async () => {
    const cloud = await testCloud({ demo: { setLink: () => {} } })
    const tokens: Record<Who, string | null> = { none: null, viewer: null, operator: null, admin: null }
    for (const role of ['viewer', 'operator', 'admin'] as const)
      tokens[role] = (await cloud.tokens.create({ name: `t-${role}`, role })).token
    const doc = (await (await fetch(`${cloud.httpUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const ops = Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`),
    )
    expect(ops.sort()).toEqual(Object.keys(EXPECTED).sort())
    const seen: string[] = []
    for (const op of ops) {
      const [method, path] = op.split(' ') as [string, string]
      // path parameters get a value that exists nowhere: an allowed call then answers 400/404, never 401/403
      const url = `${cloud.httpUrl}${path.replace(/\{[^}]+\}/g, 'nope')}`
      for (const who of WHO) {
        const ac = new AbortController()
        const res = await fetch(url, {
          method,
          signal: ac.signal,
          headers: {
            ...(tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : {}),
            ...(method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
          },
          ...(method === 'POST' ? { body: '{}' } : {}),
        })
        const need = EXPECTED[op]!
        const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null
        ac.abort() // the event stream would never end by itself
        const allowed = RANK[who] >= RANK[need]
        if (allowed) expect([401, 403], `${op} as ${who}`).not.toContain(res.status)
        else if (who === 'none') {
          expect(res.status, `${op} as ${who}`).toBe(401)
          expect(body.error.code).toBe('FOG_AUTH_REQUIRED')
        } else {
          expect(res.status, `${op} as ${who}`).toBe(403)
          expect(body.error.code).toBe('FOG_FORBIDDEN')
        }
        seen.push(`${op} ${who} ${res.status}`)
      }
    }
    expect(seen).toHaveLength(Object.keys(EXPECTED).length * WHO.length)
  })

  it('a route without a rule stops the API from starting (and an operation without x-fogline-role too)', async () => {
    const clock = fakeClock()
    const repo = openSqliteAccessRepo(join(tempDir(), 'a.db'))
    onTestFinished(() => repo.close())
    const app = Fastify()
    onTestFinished(() => app.close())
    const access = createAccess(repo, clock)
    const doc = { paths: { '/api/ok': { get: { 'x-fogline-role': 'viewer' } } } }
    installGuard(app, rulesFrom(doc), {
      ...access,
      clock,
      logger: (await import('pino')).pino({ level: 'silent' }),
      registry: createMetrics().registry,
      audit: (a) => repo.addAudit(a),
    })
    app.get('/api/ok', async () => 1)
    expect(() => app.get('/api/new', async () => 2)).toThrow(/GET \/api\/new has no access rule/)
    expect(() => rulesFrom({ paths: { '/api/new': { post: { summary: 'no rule' } } } })).toThrow(
      /POST \/api\/new has no x-fogline-role/,
    )
  })

  it('keeps CORS closed: a cross-origin preflight gets no Access-Control-Allow-Origin', async () => {
    const cloud = await testCloud()
    const res = await fetch(`${cloud.httpUrl}/api/nodes`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const get = await fetch(`${cloud.httpUrl}/api/health`, { headers: { origin: 'https://evil.example' } })
    expect(get.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('rate-limits failed token attempts per client (through the clock), counting each refusal', async () => {
    const clock = fakeClock(1_700_000_000_000)
    const dir = tempDir()
    const cloud = await startCloud(
      {
        broker: { embedded: { host: '127.0.0.1', port: 0 } },
        store: { sqlite: join(dir, 'cloud.db') },
        http: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
      },
      { clock },
    )
    onTestFinished(() => cloud.stop())
    const { token } = await cloud.tokens.create({ name: 'good', role: 'viewer' })
    const call = (t: string) =>
      fetch(`${cloud.httpUrl}/api/nodes`, { headers: { authorization: `Bearer ${t}` } })
    const wrong = `fog_${'A'.repeat(43)}`
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) statuses.push((await call(wrong)).status)
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
    const limited = await call(wrong)
    expect(limited.status).toBe(429)
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('FOG_RATE_LIMITED')
    // while limited even the right token waits: guessing cannot go on in between
    expect((await call(token)).status).toBe(429)
    clock.advance(6_001) // one attempt back per 6 s
    expect((await call(token)).status).toBe(200)
    const metrics = await (
      await call(token).then(() =>
        fetch(`${cloud.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } }),
      )
    ).text()
    expect(metrics).toMatch(/fogline_cloud_api_refused_total\{code="FOG_AUTH_REQUIRED"\} 10/)
    expect(metrics).toMatch(/fogline_cloud_api_refused_total\{code="FOG_RATE_LIMITED"\} [3-9]/)
  })

  it('audits every control action with token name, action, target, version, result and time (GET /api/audit)', async () => {
    const calls: string[] = []
    const cloud = await testCloud({ demo: { setLink: (id) => void calls.push(id) } })
    const op = bearerFetch((await cloud.tokens.create({ name: 'alice', role: 'operator' })).token)
    const viewer = bearerFetch((await cloud.tokens.create({ name: 'bob', role: 'viewer' })).token)
    const post = (f: typeof op, path: string, body: unknown) =>
      f(`${cloud.httpUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    expect((await post(op, '/api/demo/nodes/node-a/link', { up: false })).status).toBe(200)
    expect((await post(viewer, '/api/demo/nodes/node-a/link', { up: false })).status).toBe(403)
    expect((await post(op, '/api/demo/nodes/node-a/link', { up: 'no' })).status).toBe(400)
    const made = await post(cloud.fetch, '/api/tokens', { name: 'carol', role: 'viewer' })
    expect(made.status).toBe(201)
    expect(calls).toEqual(['node-a'])
    // reads are not control actions
    await op(`${cloud.httpUrl}/api/nodes`)
    const audit = (await (await op(`${cloud.httpUrl}/api/audit`)).json()) as Array<Record<string, unknown>>
    expect(audit.map((a) => [a.tokenName, a.action, a.target, a.result])).toEqual([
      ['test-admin', 'token.create', 'token:carol', 'ok'],
      ['alice', 'demo.link', 'node-a', 'FOG_API_BAD_REQUEST'],
      ['bob', 'demo.link', 'node-a', 'FOG_FORBIDDEN'],
      ['alice', 'demo.link', 'node:node-a:cut', 'ok'],
    ])
    for (const a of audit) expect(a.at).toBeTypeOf('number')
    const onlyBob = await op(`${cloud.httpUrl}/api/audit?token=bob`)
    expect(((await onlyBob.json()) as unknown[]).length).toBe(1)
    // a viewer may not read the audit log
    expect((await viewer(`${cloud.httpUrl}/api/audit`)).status).toBe(403)
  })
})
