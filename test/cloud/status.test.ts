import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { encodeMessage, upTopic } from '@fogline/protocol'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fogline, tempDir, until } from './helpers.js'

const status = (args: string[]) => fogline(['status', ...args])

describe('fogline status', () => {
  it('prints the fleet table and --json from GET /api/nodes, and a coded error when the cloud is not there', async () => {
    const cloud = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: join(tempDir(), 'c.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())
    const c = await mqtt.connectAsync(cloud.brokerUrl, { reconnectPeriod: 0 })
    onTestFinished(() => c.endAsync(true))
    const hb = {
      ts: 1,
      online: true,
      group: 'line-1',
      readingsPerSec: 12.5,
      backlogRecords: 42,
      backlogBytes: 4096,
      oldestUnsentAgeMs: 9000,
      etaSec: 7,
      dropped: { raw: 3 },
      configVersion: 2,
      lastError: null,
    }
    await c.publishAsync(upTopic('node-a', 'heartbeat'), encodeMessage(hb), { qos: 1 })
    const lastError = {
      code: 'FOG_DISK_FULL',
      message: 'the disk is full',
      where: { file: '/data/outbox.db' },
    }
    await c.publishAsync(
      upTopic('node-b', 'heartbeat'),
      encodeMessage({ ...hb, group: 'line-2', lastError }),
      {
        qos: 1,
      },
    )
    await c.publishAsync(upTopic('node-b', 'heartbeat'), encodeMessage({ online: false }), { qos: 1 })
    await until(
      async () => (await cloud.fleet.list()).filter((n) => !n.online).length === 1,
      'node-b offline',
    )

    const { token } = await cloud.tokens.create({ name: 'status', role: 'viewer' })
    const [table, json, down, anonymous] = await Promise.all([
      status(['--url', cloud.httpUrl, '--token', token]),
      status(['--url', cloud.httpUrl, '--json', '--token', token]),
      status(['--url', 'http://127.0.0.1:1']),
      status(['--url', cloud.httpUrl]),
    ])
    // without a token the API's own code reaches the user
    expect(anonymous.code).toBe(1)
    expect(anonymous.err).toContain('FOG_AUTH_REQUIRED')
    expect(table.code).toBe(0)
    const lines = table.out.trim().split('\n')
    expect(lines[0]).toMatch(/^NODE\s+GROUP\s+STATE\s+SEEN\s+READ\/S\s+BACKLOG/)
    expect(lines[1]).toMatch(/^node-a\s+line-1\s+online\s+.*12\.5\s+42\s+4\.0 KiB\s+9s\s+7s\s+raw:3\s+2/)
    expect(lines[2]).toMatch(/^node-b\s+line-2\s+OFFLINE/)
    // the last error as data, in one line: code, where, sentence
    expect(lines[2]).toMatch(/FOG_DISK_FULL \/data\/outbox\.db: the disk is full$/)
    expect(lines.at(-1)).toBe('1/2 online')
    expect(json.code).toBe(0)
    const nodes = JSON.parse(json.out) as Array<{ nodeId: string; online: boolean; backlogRecords: number }>
    expect(nodes.map((n) => [n.nodeId, n.online, n.backlogRecords])).toEqual([
      ['node-a', true, 42],
      ['node-b', false, 42],
    ])
    expect(down.code).toBe(1)
    expect(down.err).toMatch(
      /^fogline: error FOG_UPLINK_UNAVAILABLE: cannot reach the cloud API at http:\/\/127\.0\.0\.1:1/,
    )
    expect(down.err).not.toMatch(/\n\s+at /) // no stack trace
  })
})
