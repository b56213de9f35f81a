import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  MOSQUITTO_URL,
  mosquittoAvailable,
  POSTGRES_URL as PG_URL,
  postgresAvailable,
  waitFor,
} from '@fogline/testkit'
import pg from 'pg'
import { onTestFinished } from 'vitest'

export { MOSQUITTO_URL, mosquittoAvailable, PG_URL, postgresAvailable }

export const rand = () => randomBytes(4).toString('hex')

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fogline-cloud-'))
  onTestFinished(() => rmSync(d, { recursive: true, force: true }))
  return d
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

export const until = <T>(cond: () => T | Promise<T>, what: string, ms = 15_000) => waitFor(cond, what, ms, 25)
