import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openSqliteOutbox } from '@fogline/outbox'
import { runTsChild, startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import { connect } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { expectExactlyOnce, LONG, startTestCloud } from './helpers.js'

const CLI = 'packages/cli/src/bin.ts'

describe('kill -9 loop with the real fog node (fogline node --config F)', () => {
  const rounds = LONG ? 60 : 20
  it(
    `a node killed -9 ${rounds} times while sensors publish loses no committed summary and stores none twice`,
    async () => {
      const d = tempDir('fogline-faults-', onTestFinished)
      const cloud = await startTestCloud(d)
      const proxy = await startFaultProxy(Number(new URL(cloud.url).port))
      onTestFinished(() => proxy.close())
      const dataDir = join(d.path, 'node')
      const cfg = d.file('node.yaml')
      writeFileSync(
        cfg,
        `nodeId: k9node
dataDir: ${JSON.stringify(dataDir)}
broker: { host: 127.0.0.1, port: 0 }
uplink: { urls: ['${proxy.url}'], ackTimeout: 500, reconnect: { min: 20, max: 200 }, linger: 2 }
outbox: { commitInterval: 2 }
log: { level: warn }
pipelines:
  - id: t
    input: ['sensors/+/+']
    decoder: { type: json, value: '$.value' }
    stages:
      - { type: window, kind: tumbling, size: 50ms, aggregates: [count, min, max, mean, sum] }
    output: { stream: summary }
`,
      )
      let published = 0
      let committed = 0
      const runNode = (statusEvery = '0') => {
        const child = runTsChild(CLI, ['node', '--config', cfg, '--status-every', statusEvery])
        onTestFinished(() => child.kill9())
        return child
      }
      for (let i = 0; i < rounds; i++) {
        // some rounds run with the cloud link cut, so a backlog builds up and later rounds kill during its drain
        if (i % 4 === 1) proxy.cut()
        else proxy.pass()
        const child = runNode()
        const line = await child.waitForLine(/sensors publish to mqtt:/, 30_000)
        const url = line.slice(line.indexOf('mqtt://')).trim()
        const sensors = connect(url, { protocolVersion: 4, reconnectPeriod: 0 })
        sensors.on('error', () => {})
        await new Promise<void>((r) => sensors.once('connect', () => r()))
        const t = setInterval(() => {
          for (const s of ['a', 'b', 'c'])
            sensors.publish(`sensors/${s}/temp`, JSON.stringify({ value: published++ % 50 }))
        }, 5)
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 600)) // chaos pacing: kill at a random moment
        await child.kill9()
        clearInterval(t)
        sensors.end(true)
        // the outbox opens cleanly every time, and the cloud holds nothing the outbox does not know
        const ob = await openSqliteOutbox({ path: join(dataDir, 'outbox.db') })
        expect(ob.quarantined).toBeNull()
        expect(ob.lastSeq('summary')).toBeGreaterThanOrEqual(committed)
        committed = ob.lastSeq('summary')
        const stored = cloud.seqs('k9node', 'summary')
        if (stored.length) expect(stored[stored.length - 1]!).toBeLessThanOrEqual(committed)
        const st = ob.stats()
        expect(st.records).toBe(st.appended - st.acked - Object.values(st.dropped).reduce((a, b) => a + b, 0))
        await ob.close()
      }
      // more lives without sensors drain what is left (a restored window may still close and add a summary)
      proxy.pass()
      let ob = await openSqliteOutbox({ path: join(dataDir, 'outbox.db') })
      for (let life = 0; life < 3 && ob.stats().records > 0; life++) {
        const target = ob.lastSeq('summary')
        await ob.close()
        const last = runNode('0.05')
        await last.waitForLine(/sensors publish to mqtt:/, 30_000)
        await waitFor(() => cloud.seqs('k9node', 'summary').length >= target, 'the backlog drained', 30_000)
        // the node has seen the acks too: its own status line says the backlog is empty
        await last.waitForLine(/backlog=0 .*online/, 30_000)
        await last.kill9()
        ob = await openSqliteOutbox({ path: join(dataDir, 'outbox.db') })
      }
      const final = ob
      onTestFinished(() => final.close())
      expect(ob.stats().records).toBe(0)
      expect(committed).toBeGreaterThan(0)
      expectExactlyOnce(cloud.seqs('k9node', 'summary'), ob.lastSeq('summary'))
      expect(cloud.deadLetters('k9node')).toBe(0)
      // readings counted in the cloud never exceed what the sensors sent (a kill loses open windows, never adds)
      const rows = await cloud.cloud.store.querySummaries({ nodeId: 'k9node', limit: 100_000 })
      const counted = rows.reduce((a, r) => a + r.count, 0)
      expect(counted).toBeGreaterThan(0)
      expect(counted).toBeLessThanOrEqual(published)
    },
    90_000 + rounds * 5_000,
  )
})
