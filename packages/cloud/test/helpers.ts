import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bearerFetch, waitFor } from '@fogline/testkit'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { onTestFinished } from 'vitest'
import { type Cloud, type CloudOptions, startCloud } from '../src/index.js'

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fogline-cloud-'))
  onTestFinished(() => rmSync(d, { recursive: true, force: true }))
  return d
}

/** An embedded-broker cloud on port 0 with SQLite in a temp dir, stopped when the test ends. */
/** A test cloud with an admin token, and `fetch` that sends it. */
export type TestCloud = Cloud & { token: string; fetch(url: string, init?: RequestInit): Promise<Response> }

export async function testCloud(
  opts: CloudOptions & { offlineAfter?: number; sseHeartbeat?: number } = {},
): Promise<TestCloud> {
  const dir = tempDir()
  const cloud = await startCloud(
    {
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: join(dir, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0, sseHeartbeat: opts.sseHeartbeat ?? 15_000 },
      fleet: { offlineAfter: opts.offlineAfter ?? 15_000, sweepInterval: 50 },
      log: { level: 'silent' },
    },
    opts,
  )
  onTestFinished(() => cloud.stop())
  const { token } = await cloud.tokens.create({ name: 'test-admin', role: 'admin' })
  return Object.assign(cloud, { token, fetch: bearerFetch(token) })
}

/** mqtt.js client with Nagle off, ended when the test ends. */
export async function testClient(url: string, o: IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, ...o })
  c.on('connect', () => (c.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true))
  c.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve())
    c.once('error', reject)
  })
  onTestFinished(() => c.endAsync(true).catch(() => {}))
  return c
}

/** Poll until cond returns truthy; fail naming `what` after ms. */
export const until = <T>(cond: () => T | Promise<T>, what: string, ms = 10_000) => waitFor(cond, what, ms, 20)

export function summaryBody(i: number, over: Record<string, unknown> = {}) {
  const start = 1_700_000_000_000 + i * 1000
  return {
    pipelineId: 'p1',
    sensorId: 's1',
    metric: 'temperature',
    start,
    end: start + 1000,
    count: 10,
    min: i,
    max: i + 9,
    mean: i + 4.5,
    sum: (i + 4.5) * 10,
    ...over,
  }
}
