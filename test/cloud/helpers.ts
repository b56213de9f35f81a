import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import pg from 'pg'
import { onTestFinished } from 'vitest'

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test'
export const MOSQUITTO_URL = 'mqtt://127.0.0.1:1883'

export const rand = () => randomBytes(4).toString('hex')

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fogline-cloud-'))
  onTestFinished(() => rmSync(d, { recursive: true, force: true }))
  return d
}

export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
  try {
    await c.connect()
    return true
  } catch {
    return false
  } finally {
    await c.end().catch(() => {})
  }
}

/** Mosquitto on 127.0.0.1:1883 speaking MQTT 5. */
export async function mosquittoAvailable(): Promise<boolean> {
  try {
    const c = await mqtt.connectAsync(MOSQUITTO_URL, {
      protocolVersion: 5,
      connectTimeout: 2000,
      reconnectPeriod: 0,
    })
    await c.endAsync(true)
    return true
  } catch {
    return false
  }
}

/** A unique schema, dropped (CASCADE) when the test ends. */
export function pgSchema(): string {
  const schema = `fogline_t_${process.pid}_${rand()}`
  onTestFinished(async () => {
    const c = new pg.Client({ connectionString: PG_URL })
    await c.connect()
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await c.end()
  })
  return schema
}

export async function until<T>(cond: () => T | Promise<T>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
