import { join } from 'node:path'
import { startBroker } from '@fogline/broker'
import { startCloud } from '@fogline/cloud'
import { tempDir, waitFor } from '@fogline/testkit'
import fc from 'fast-check'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fuzzRuns, sendRaw, wireCase } from './mqtt-packets.js'

/** Crashes the process would otherwise only log: each one fails the test. */
function watchProcess() {
  const seen: unknown[] = []
  const onErr = (e: unknown) => void seen.push(e)
  process.on('unhandledRejection', onErr)
  process.on('uncaughtException', onErr)
  onTestFinished(() => {
    process.off('unhandledRejection', onErr)
    process.off('uncaughtException', onErr)
  })
  return seen
}

// CI: 400 cases per broker (about 10 s each on the shared 2-core machine); FOGLINE_FUZZ=N for N
const RUNS = fuzzRuns(400)
const TIMEOUT = Math.max(60_000, RUNS * 200)

describe('fuzzing the brokers with random and mutated MQTT packets on raw sockets', () => {
  it(`fog broker: ${RUNS} cases, no crash, a well-behaved client alongside gets every reading through`, {
    timeout: TIMEOUT,
  }, async () => {
    const crashes = watchProcess()
    const good: string[] = []
    const b = await startBroker({
      listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0, anonymous: true }],
      users: { good: 'good-pw' },
      // anonymous fuzz clients may write under fuzz/ and read anything: the hooks see every packet kind
      acl: {
        canPublish: (u, _c, t) => u === 'good' || t.startsWith('fuzz/'),
        canSubscribe: () => true,
        canRead: () => true,
        users: new Set(['good']),
        hasDeny: false,
      },
      limits: { maxTopicLevels: 8, maxTopicLength: 128 },
      onMessage: (t, _p, c) => {
        if (c === 'good-1') good.push(t)
      },
    })
    onTestFinished(() => b.close())
    const client = await mqtt.connectAsync(b.url, {
      clientId: 'good-1',
      username: 'good',
      password: 'good-pw',
    })
    onTestFinished(() => client.endAsync(true))
    let sent = 0
    await fc.assert(
      fc.asyncProperty(wireCase, async (bytes) => {
        await sendRaw(b.port, bytes)
        // checked per case, so fast-check shrinks a crash to its smallest input
        expect(crashes).toEqual([])
        await client.publishAsync('sensors/good/t', String(sent++), { qos: 1 })
      }),
      { numRuns: RUNS },
    )
    await waitFor(() => good.length === sent, 'every good reading handed on')
    expect(client.connected).toBe(true)
    expect(crashes).toEqual([])
    process.stdout.write(`fog broker fuzz: ${RUNS} cases, ${sent} good readings, 0 crashes\n`)
  })

  it(`cloud broker: ${RUNS} cases, no crash, a node's batches still arrive`, {
    timeout: TIMEOUT,
  }, async () => {
    const crashes = watchProcess()
    const dir = tempDir('fogline-fuzz-')
    onTestFinished(() => dir.remove())
    const cloud = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: join(dir.path, 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())
    const port = Number(new URL(cloud.brokerUrl).port)
    const watcher = await mqtt.connectAsync(cloud.brokerUrl, { clientId: 'watch' })
    onTestFinished(() => watcher.endAsync(true))
    let seen = 0
    watcher.on('message', () => void seen++)
    await watcher.subscribeAsync('fuzz-good/#', { qos: 1 })
    const node = await mqtt.connectAsync(cloud.brokerUrl, { clientId: 'node-good' })
    onTestFinished(() => node.endAsync(true))
    let sent = 0
    await fc.assert(
      fc.asyncProperty(wireCase, async (bytes) => {
        await sendRaw(port, bytes)
        expect(crashes).toEqual([])
        sent++
        await node.publishAsync('fuzz-good/t', String(sent), { qos: 1 })
      }),
      { numRuns: RUNS },
    )
    await waitFor(() => seen === sent, 'every message of the good client delivered')
    expect(crashes).toEqual([])
    process.stdout.write(`cloud broker fuzz: ${RUNS} cases, ${sent} good messages, 0 crashes\n`)
  })
})
