import { encodeBatch, encodeMessage, upTopic } from '@fogline/protocol'
import { fakeClock } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import type { NodeView } from '../src/index.js'
import { testClient, testCloud, until } from './helpers.js'

const heartbeat = {
  ts: 1,
  online: true,
  group: 'line-1',
  readingsIn: 1200,
  readingsPerSec: 40,
  backlogRecords: 321,
  backlogBytes: 65_432,
  oldestUnsentAgeMs: 4_500,
  etaSec: 12,
  // the ops predictor's time the outbox reaches capacity: the fleet view shows it (issue 13)
  outboxFullAt: 1_700_000_600_000,
  dropped: { raw: 17, merged: 3 },
  configVersion: 7,
  diskFreeBytes: 123_456_789,
  lastError: 'FOG_UPLINK_TIMEOUT: no ack in 5s',
  sent: 900,
  acked: 880,
}

describe('fleet registry', () => {
  it('shows a node online with the backlog and counters of its heartbeat, and offline as soon as its last will arrives', async () => {
    const cloud = await testCloud()
    const node = await testClient(cloud.brokerUrl, {
      clientId: 'node-k',
      will: {
        topic: upTopic('node-k', 'heartbeat'),
        payload: encodeMessage({ ts: 2, online: false, group: 'line-1' }),
        qos: 1,
        retain: false,
      },
    })
    await node.publishAsync(upTopic('node-k', 'heartbeat'), encodeMessage(heartbeat), { qos: 1 })
    const res = await until(async () => {
      const r = await cloud.fetch(`${cloud.httpUrl}/api/nodes/node-k`)
      return r.status === 200 ? ((await r.json()) as NodeView) : null
    }, 'node-k registered')
    const { ts: _ts, lastError: _old, ...counters } = heartbeat
    expect(res).toMatchObject({ ...counters, nodeId: 'node-k' })
    // a node from before errors were data sends a string: the API shows it as data all the same
    expect(res.lastError).toEqual({ code: 'FOG_UPLINK_TIMEOUT', message: 'no ack in 5s', where: {} })
    const list = (await (await cloud.fetch(`${cloud.httpUrl}/api/nodes`)).json()) as NodeView[]
    expect(list.map((n) => [n.nodeId, n.online, n.backlogRecords])).toEqual([['node-k', true, 321]])

    // kill the node: its socket dies without DISCONNECT, so the broker publishes its last will [MQTT-3.1.2-8]
    const killedAt = Date.now()
    node.stream.destroy()
    const off = await until(
      async () => {
        const v = await cloud.fleet.get('node-k')
        return v && !v.online ? v : null
      },
      'node-k offline',
      5_000,
    )
    // well inside the stated offline time (fleet.offlineAfter, 15 s here): the will is immediate
    expect(Date.now() - killedAt).toBeLessThan(3_000)
    // the last counters stay visible while it is offline
    expect(off).toMatchObject({ backlogRecords: 321, dropped: { raw: 17, merged: 3 } })
  })

  it('turns a node that goes silent offline after fleet.offlineAfter on the injected clock, with a live node event', async () => {
    const clock = fakeClock()
    const cloud = await testCloud({ clock, offlineAfter: 3_000 })
    const changes: NodeView[] = []
    cloud.bus.on('node', (v) => changes.push(v))
    const node = await testClient(cloud.brokerUrl)
    await node.publishAsync(upTopic('node-s', 'heartbeat'), encodeMessage(heartbeat), { qos: 1 })
    await until(() => changes.some((v) => v.nodeId === 'node-s' && v.online), 'online event')
    // no will, no heartbeat: silence only
    clock.advance(3_000)
    expect((await cloud.fleet.get('node-s'))!.online).toBe(true) // exactly offlineAfter: still online
    clock.advance(1)
    expect((await cloud.fleet.get('node-s'))!.online).toBe(false)
    // the sweep (scheduled on the same clock) publishes the change once
    clock.advance(100)
    await until(() => changes.some((v) => v.nodeId === 'node-s' && !v.online), 'offline event')
    // more sweeps (each 50 ms on the fake clock, their store reads in between) find no new change
    await clock.advanceAsync(300)
    expect(changes.filter((v) => !v.online)).toHaveLength(1)
    // a new heartbeat brings it back
    await node.publishAsync(
      upTopic('node-s', 'heartbeat'),
      encodeMessage({ ...heartbeat, backlogRecords: 0 }),
      { qos: 1 },
    )
    await until(() => changes.at(-1)?.online === true, 'back online')
    expect(changes.at(-1)!.backlogRecords).toBe(0)
  })

  it('shows lastError as { code, message, where } from a current node, and clears it', async () => {
    const cloud = await testCloud()
    const node = await testClient(cloud.brokerUrl)
    const lastError = {
      code: 'FOG_DISK_FULL',
      message: 'the disk is full',
      where: { file: '/data/outbox.db' },
    }
    await node.publishAsync(upTopic('node-e', 'heartbeat'), encodeMessage({ ...heartbeat, lastError }), {
      qos: 1,
    })
    const v = await until(() => cloud.fleet.get('node-e'), 'node-e')
    expect(v!.lastError).toEqual(lastError)
    await node.publishAsync(
      upTopic('node-e', 'heartbeat'),
      encodeMessage({ ...heartbeat, lastError: null }),
      {
        qos: 1,
      },
    )
    await until(async () => (await cloud.fleet.get('node-e'))!.lastError === null, 'lastError cleared')
  })

  it('stores reported state and shows the applied config version', async () => {
    const cloud = await testCloud()
    const reported: unknown[] = []
    cloud.bus.on('reported', (_id, b) => reported.push(b))
    const node = await testClient(cloud.brokerUrl)
    // the node's one route: a batch of its outbox's reported stream
    const records = [{ seq: 1, ts: 1, body: { appliedVersion: 3, status: 'applied' } }]
    await node.publishAsync(
      upTopic('node-r', 'reported'),
      encodeBatch({ nodeId: 'node-r', stream: 'reported', batchId: 'b1', sentAt: 1, records }),
      { qos: 1 },
    )
    const v = await until(() => cloud.fleet.get('node-r'), 'node-r')
    expect(v).toMatchObject({ reported: { appliedVersion: 3, status: 'applied' }, configVersion: 3 })
    expect(reported).toEqual([{ appliedVersion: 3, status: 'applied' }])
  })
})
