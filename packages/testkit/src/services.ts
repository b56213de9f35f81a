import { randomBytes } from 'node:crypto'
import mqtt from 'mqtt'
import pg from 'pg'

/**
 * The machine's own services that interop and scale tests use (started before the session and before CI;
 * tests connect to them and never bind their ports). Override with FOGLINE_MOSQUITTO_URL / FOGLINE_POSTGRES_URL.
 */
export const MOSQUITTO_URL = process.env['FOGLINE_MOSQUITTO_URL'] ?? 'mqtt://127.0.0.1:1883'
export const POSTGRES_URL = process.env['FOGLINE_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Whether Mosquitto answers an MQTT CONNECT (MQTT 5 by default). Tests skip on false outside CI and say so
 * in their names; under CI=true they run and fail loudly.
 */
export async function mosquittoAvailable(protocolVersion: 4 | 5 = 5): Promise<boolean> {
  try {
    const c = await mqtt.connectAsync(MOSQUITTO_URL, {
      protocolVersion,
      connectTimeout: 2000,
      reconnectPeriod: 0,
    })
    await c.endAsync(true)
    return true
  } catch {
    return false
  }
}

/** Whether PostgreSQL answers a query on POSTGRES_URL. */
export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 })
  try {
    await c.connect()
    await c.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await c.end().catch(() => {})
  }
}

/**
 * A unique schema name on POSTGRES_URL for one test (`fogline_t_<pid>_<random>`); `dropWith` (vitest's
 * `onTestFinished`) is handed the DROP SCHEMA … CASCADE that removes it and all it holds.
 * @example const store = await openPostgresStore({ url: POSTGRES_URL, schema: pgSchema(onTestFinished) })
 */
export function pgSchema(dropWith: (drop: () => Promise<void>) => void): string {
  const schema = `fogline_t_${process.pid}_${randomBytes(4).toString('hex')}`
  dropWith(() => pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  return schema
}

/** Run one statement on POSTGRES_URL on a connection of its own (CREATE/DROP DATABASE cannot share one). */
async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

/**
 * A new, empty PostgreSQL database (`<prefix>_<pid>_<random>`) on POSTGRES_URL's server; its URL. `dropWith`
 * (vitest's `onTestFinished`, or a bench's own list) is handed the DROP DATABASE … WITH (FORCE) that removes
 * it (FORCE: a pool that is still closing does not keep it alive).
 * @example const url = await pgDatabase(onTestFinished)
 */
export async function pgDatabase(
  dropWith: (drop: () => Promise<void>) => void,
  prefix = 'fogline_db',
): Promise<string> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  await pgAdmin(`CREATE DATABASE ${name}`)
  dropWith(() => pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  const url = new URL(POSTGRES_URL)
  url.pathname = `/${name}`
  return url.toString()
}
