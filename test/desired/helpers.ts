import { join } from 'node:path'
import { type Cloud, startCloud } from '@fogline/cloud'
import { createDesiredAgent, type DesiredAgent, engineHealth } from '@fogline/node'
import { type Outbox, openSqliteOutbox } from '@fogline/outbox'
import { createEngine } from '@fogline/pipeline'
import {
  ALL_SCOPES,
  type Clock,
  type DesiredEnvelope,
  type DesiredReport,
  type DesiredState,
  type DesiredTarget,
  generateDesiredKeyPair,
  type KeyScope,
  signDesired,
  systemClock,
  type TrustedKey,
  UplinkConfig,
} from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import { createUplink, type Uplink } from '@fogline/uplink'
import mqtt from 'mqtt'
import { onTestFinished } from 'vitest'
import { fogline } from '../cloud/helpers.js'

export const pipe = (id: string) => ({ id, input: ['sensors/+/+'] })
export const FILE_PIPELINES = [pipe('from-file')]
/** valid config, but its decoder finds no value in the readings: every one is dead-lettered */
export const bad = (id: string) => ({
  id,
  input: ['sensors/+/+'],
  decoder: { type: 'json', value: '$.nope' },
})

export function dir(): string {
  const d = tempDir('fogline-desired-')
  onTestFinished(() => d.remove())
  return d.path
}

export type OperatorKey = ReturnType<typeof generateDesiredKeyPair>

/** A key-set entry for a key pair: every scope unless given, a year of validity unless given. */
export const trusted = (k: OperatorKey, o: { scopes?: KeyScope[]; notAfter?: number } = {}): TrustedKey => ({
  publicKey: k.publicKeyRaw,
  scopes: o.scopes ?? [...ALL_SCOPES],
  notAfter: o.notAfter ?? Date.now() + 365 * 86_400_000,
})

export type TestCloud = Cloud & {
  /** the operator's key pair (the cloud trusts its public half; tests sign with the private one) */
  operator: OperatorKey
  /** the operator public key, PEM (what a node trusts) */
  publicKeyPem: string
  dir: string
  token: string
}

/**
 * A real cloud (embedded aedes on port 0, SQLite in a temp dir) trusting one operator key (`cloud.operator`,
 * or `operator` given for a restart); stopped at the end.
 */
export async function testCloud(
  d = dir(),
  operator: OperatorKey = generateDesiredKeyPair(),
  operatorKeys: TrustedKey[] = [trusted(operator)],
): Promise<TestCloud> {
  const cloud = await startCloud({
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    store: { sqlite: join(d, 'cloud.db') },
    http: { host: '127.0.0.1', port: 0 },
    fleet: { offlineAfter: 5000, sweepInterval: 100 },
    operatorKeys,
    log: { level: 'silent' },
  })
  onTestFinished(() => cloud.stop())
  await cloud.tokens.revoke('test-operator') // a restarted cloud on the same files still has the last one
  const { token } = await cloud.tokens.create({ name: 'test-operator', role: 'operator' })
  tokens.set(cloud.httpUrl, token)
  return Object.assign(cloud, { operator, publicKeyPem: operator.publicKeyPem, dir: d, token })
}

export interface SimNode {
  nodeId: string
  agent: DesiredAgent
  uplink: Uplink
  outbox: Outbox
  reports: DesiredReport[]
  running(): unknown
  start(): void
  stop(): Promise<void>
}

/**
 * A fog node's desired-state path on real parts: the real pipeline engine (fed a reading every 5 ms, as a
 * sensor would), a SQLite outbox for the agent's state, the real uplink (down messages, up/reported,
 * heartbeats with the group), the agent and its engine health probe.
 */
export async function simNode(
  brokerUrl: string,
  o: {
    nodeId: string
    group: string
    /** trusted with every scope and no near expiry, unless `keys` gives the set */
    publicKey: string
    keys?: TrustedKey[]
    windowMs?: number
    start?: boolean
    clock?: Clock
  },
): Promise<SimNode> {
  const outbox = await openSqliteOutbox({ path: join(dir(), 'outbox.db') })
  const engine = createEngine(FILE_PIPELINES, { clock: systemClock, emit: () => {}, deadLetter: () => {} })
  const feed = setInterval(() => engine.ingest('sensors/s1/temp', Buffer.from('{"value":21.5}')), 5)
  let running: unknown = FILE_PIPELINES
  const reports: DesiredReport[] = []
  let agent: DesiredAgent | null = null
  const clock = o.clock ?? systemClock
  // the node's link is the uplink below (made after the probe, read only during health checks)
  const probe = engineHealth(() => engine.counters(), {
    minReadings: 5,
    now: () => clock.now(),
    connected: () => uplink.stats().connected,
  })
  const uplink = createUplink({
    nodeId: o.nodeId,
    group: o.group,
    outbox,
    config: UplinkConfig.parse({
      urls: [brokerUrl],
      heartbeat: 200,
      linger: 5,
      pollInterval: 50,
      reconnect: { min: 50, max: 200 },
    }),
    heartbeat: () => ({
      ts: Date.now(),
      online: true,
      group: o.group,
      configVersion: agent?.appliedVersion() ?? null,
    }),
    onDown: (topic, payload) => void agent?.handle(topic, payload),
  })
  agent = createDesiredAgent({
    nodeId: o.nodeId,
    group: o.group,
    keys: o.keys ?? [{ publicKey: o.publicKey, scopes: [...ALL_SCOPES], notAfter: Date.UTC(2100, 0, 1) }],
    clock,
    getState: (k) => outbox.getState(k),
    putState: (k, v) => outbox.putState(k, v),
    applyPipelines(p) {
      engine.reload(p)
      running = p
    },
    currentPipelines: () => running,
    health: probe.check,
    healthBeforeChange: probe.beforeChange,
    healthReset: probe.reset,
    report(body) {
      reports.push(body)
      // the node's route: the outbox's durable reported stream, drained and acked like events
      outbox.append([{ stream: 'reported', ts: body.ts, body }]).catch(() => {}) // a report after stop is lost
    },
    healthWindowMs: o.windowMs ?? 300,
    healthCheckMs: 50,
  })
  let stopped = false
  const node: SimNode = {
    nodeId: o.nodeId,
    agent,
    uplink,
    outbox,
    reports,
    running: () => running,
    start: () => uplink.start(),
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(feed)
      agent?.close()
      await uplink.stop()
      engine.close()
      await outbox.close()
    },
  }
  onTestFinished(() => node.stop())
  if (o.start !== false) uplink.start()
  return node
}

/** The operator token of each test cloud, by its URL: `api()` sends it. */
const tokens = new Map<string, string>()

/** Call a test cloud's API with its operator token. */
export async function api<T = any>(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(tokens.has(base) ? { authorization: `Bearer ${tokens.get(base)}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: (await res.json()) as T }
}

/** Content of a document: what an operator signs besides version, target and createdAt. */
type Content = Omit<DesiredState, 'version' | 'target' | 'createdAt'>

/** Sign `content` for `target` with the next version, as `fogline push` does on the operator's machine. */
export async function signNext(
  cloud: TestCloud,
  target: DesiredTarget,
  content: Content,
  key: string = cloud.operator.privateKeyPem,
  createdAt = Date.now(),
): Promise<DesiredEnvelope> {
  const { version } = (await api(cloud.httpUrl, 'GET', '/api/desired/next')).body as { version: number }
  return signDesired({ version, target, createdAt, ...content }, key)
}

/** POST /api/desired with a document signed by the operator key (or `key`). */
export async function push(
  cloud: TestCloud,
  body: { target: DesiredTarget } & Content,
  key?: string,
): Promise<{ status: number; body: any }> {
  const { target, ...content } = body
  return api(cloud.httpUrl, 'POST', '/api/desired', await signNext(cloud, target, content, key))
}

/** POST /api/rollouts with the group document signed by the operator key. */
export async function rollout(
  cloud: TestCloud,
  body: { group: string; doc: Content; canary?: string[]; canaryCount?: number; timeoutMs?: number },
): Promise<{ status: number; body: any }> {
  const { doc, ...rest } = body
  const envelope = await signNext(cloud, { group: body.group }, doc)
  return api(cloud.httpUrl, 'POST', '/api/rollouts', { ...rest, envelope })
}

/** `simNode`s with these ids in `group`, trusting the cloud's operator key, made together. */
export const groupNodes = (
  cloud: TestCloud,
  group: string,
  ids: string[],
  o: { windowMs?: number; start?: boolean } = {},
) =>
  Promise.all(
    ids.map((nodeId) => simNode(cloud.brokerUrl, { nodeId, group, publicKey: cloud.publicKeyPem, ...o })),
  )

/** Wait until the cloud's fleet view lists `n` nodes (their first heartbeats arrived). */
export const fleetKnows = (cloud: TestCloud, n: number, what: string) =>
  until(async () => (await api<unknown[]>(cloud.httpUrl, 'GET', '/api/nodes')).body.length === n, what)

/** Wait until rollout `id` has left the canary state, and return its view. */
export const rolloutSettled = (cloud: TestCloud, id: string, what: string) =>
  until(async () => {
    const r = await api(cloud.httpUrl, 'GET', `/api/rollouts/${id}`)
    return r.body.state !== 'canary' ? r.body : null
  }, what)

/** Run `fogline keys|push …` (the CLI from its sources) in a child Node process and collect its output. */
export const cli = (cmd: 'keys' | 'push', argv: string[], env: Record<string, string> = {}) =>
  fogline([cmd, ...argv], env)

export const until = <T>(cond: () => T | Promise<T>, what: string, ms = 10_000) => waitFor(cond, what, ms, 20)

/** The retained messages a fresh subscriber gets on these topics (a marker round trip bounds the wait). */
export async function retainedOn(brokerUrl: string, topics: string[]): Promise<Map<string, Buffer>> {
  const c = await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0 })
  try {
    const got = new Map<string, Buffer>()
    const marker = `fogline-test/marker/${Math.random().toString(36).slice(2)}`
    const done = new Promise<void>((resolve) =>
      c.on('message', (t, p) => (t === marker ? resolve() : p.length > 0 && got.set(t, p))),
    )
    await c.subscribeAsync([...topics, marker], { qos: 1 })
    await c.publishAsync(marker, 'x', { qos: 1 })
    await done
    return got
  } finally {
    await c.endAsync(true)
  }
}
