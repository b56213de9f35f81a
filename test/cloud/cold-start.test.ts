import { Writable } from 'node:stream'
import { type Cloud, SCHEMA_VERSION, startCloud } from '@fogline/cloud'
import { startFaultProxy } from '@fogline/testkit'
import pg from 'pg'
import { pino } from 'pino'
import { expect, it, onTestFinished } from 'vitest'
import { freshDatabase, MOSQUITTO_URL, PG_URL, rand, until, withBrokerAndPostgres } from './helpers.js'

const { run, missing } = await withBrokerAndPostgres()

const ROUNDS = 20

/** A replica's config: the machine's Mosquitto with a share group and filter of this test only. */
function replicaConfig(tag: string, postgres: string) {
  return {
    broker: { url: MOSQUITTO_URL, shareGroup: `cold-${tag}`, filters: [`fogline/v1/cold-${tag}/up/#`] },
    store: { postgres },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' as const },
  }
}

run(`cloud replicas: cold start, readiness${missing}`, () => {
  it(`3 replicas started together on an empty database, ${ROUNDS} rounds: all ready, one schema version`, async () => {
    const failures: string[] = []
    // the next round's database is made while this round runs (CREATE DATABASE copies a template: slow)
    let next = freshDatabase()
    for (let round = 0; round < ROUNDS; round++) {
      const url = await next
      if (round + 1 < ROUNDS) next = freshDatabase()
      const tag = rand()
      const started = await Promise.allSettled([1, 2, 3].map(() => startCloud(replicaConfig(tag, url))))
      const clouds = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
      for (const s of started) if (s.status === 'rejected') failures.push(`round ${round}: ${s.reason}`)
      try {
        for (const c of clouds) {
          const res = await fetch(`${c.httpUrl}/readyz`)
          const body = (await res.json()) as { ready: boolean; schemaVersion: number }
          expect({ status: res.status, ...body }).toMatchObject({
            status: 200,
            ready: true,
            schemaVersion: SCHEMA_VERSION,
          })
        }
        const db = new pg.Client({ connectionString: url })
        await db.connect()
        const rows = await db
          .query('SELECT version FROM schema_migrations ORDER BY version')
          .finally(() => db.end())
        expect(rows.rows.map((r) => r.version)).toEqual(
          Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
        )
      } finally {
        await Promise.all(clouds.map((c: Cloud) => c.stop()))
      }
    }
    expect(failures).toEqual([])
  }, 120_000)

  it('a replica whose store is unreachable stays up, answers /readyz 503 with the reason, and gets ready once it opens', async () => {
    const proxy = await startFaultProxy(Number(new URL(PG_URL).port || 5432))
    onTestFinished(() => proxy.close())
    proxy.cut()
    const url = new URL(await freshDatabase())
    url.host = new URL(proxy.url).host
    const lines: string[] = []
    const logger = pino(
      { level: 'warn' },
      new Writable({ write: (chunk, _e, cb) => cb(void lines.push(String(chunk))) }),
    )
    const starting = startCloud(replicaConfig(rand(), url.toString()), { logger })
    const readyz = await until(
      () => lines.map((l) => JSON.parse(l).readyz as string | undefined).find(Boolean),
      'the not-ready probe is up',
    )
    const res = await fetch(readyz)
    const body = (await res.json()) as { ready: boolean; reasons: Array<{ code: string }> }
    expect(res.status).toBe(503)
    expect(body.ready).toBe(false)
    expect(body.reasons.map((r) => r.code)).toEqual(['FOG_STORE_UNAVAILABLE'])
    expect((await fetch(readyz.replace('/readyz', '/healthz'))).status).toBe(200)
    proxy.pass()
    const cloud = await starting
    onTestFinished(() => cloud.stop())
    // the API took the probe's port over
    expect(`${cloud.httpUrl}/readyz`).toBe(readyz)
    expect((await fetch(readyz)).status).toBe(200)
    // the store goes away at run time: not ready, with the reason; back: ready
    proxy.cut()
    const down = await until(async () => {
      const r = await fetch(readyz)
      return r.status === 503 ? ((await r.json()) as { reasons: Array<{ code: string }> }) : null
    }, 'not ready while the store is unreachable')
    expect(down.reasons.map((r) => r.code)).toEqual(['FOG_STORE_UNAVAILABLE'])
    proxy.pass()
    await until(async () => (await fetch(readyz)).status === 200, 'ready again')
  }, 60_000)
})
