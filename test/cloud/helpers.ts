import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  MOSQUITTO_URL,
  mosquittoAvailable,
  POSTGRES_URL as PG_URL,
  pgDatabase,
  postgresAvailable,
  pgSchema as schemaDroppedWith,
  waitFor,
} from '@fogline/testkit'
import { describe, onTestFinished } from 'vitest'

export { MOSQUITTO_URL, mosquittoAvailable, PG_URL, postgresAvailable }

export const rand = () => randomBytes(4).toString('hex')

/**
 * `describe` for suites that need the machine's Mosquitto (MQTT 5) and PostgreSQL: skipped outside CI naming
 * what is missing, run (and failing loudly) under CI.
 */
export async function withBrokerAndPostgres(): Promise<{ run: typeof describe; missing: string }> {
  const ready = (await mosquittoAvailable()) && (await postgresAvailable())
  const missing = ready
    ? ''
    : ' (skipped: needs Mosquitto MQTT 5 at 127.0.0.1:1883 and PostgreSQL at 127.0.0.1:5432)'
  return { run: ready || process.env.CI ? describe : (describe.skip as typeof describe), missing }
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fogline-cloud-'))
  onTestFinished(() => rmSync(d, { recursive: true, force: true }))
  return d
}

/** A unique schema, dropped (CASCADE) when the test ends. */
export const pgSchema = (): string => schemaDroppedWith(onTestFinished)

export const until = <T>(cond: () => T | Promise<T>, what: string, ms = 15_000) => waitFor(cond, what, ms, 25)

const FOGLINE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/fogline.ts')

/** Run `fogline ARGS` (the CLI from its sources) in a child process; its exit code, stdout and stderr. */
export function fogline(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', FOGLINE, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  onTestFinished(() => {
    if (p.exitCode === null) p.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  p.stdout.on('data', (d: Buffer) => (out += d))
  p.stderr.on('data', (d: Buffer) => (err += d))
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, out, err })))
}

/** A new, empty PostgreSQL database (CREATE DATABASE with a random name); its URL. Dropped when the test ends. */
export const freshDatabase = (): Promise<string> => pgDatabase(onTestFinished)
