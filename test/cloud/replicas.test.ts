import { type Cloud, openPostgresStore, startCloud } from '@fogline/cloud'
import { type Ack, decodeAck, downTopic, encodeBatch, upTopic } from '@fogline/protocol'
import { bearerFetch } from '@fogline/testkit'
import mqtt from 'mqtt'
import { expect, it, onTestFinished } from 'vitest'
import { MOSQUITTO_URL, PG_URL, pgSchema, rand, until, withBrokerAndPostgres } from './helpers.js'

const { run, missing } = await withBrokerAndPostgres()

function summary(i: number) {
  const start = 1_700_000_000_000 + i * 1000
  return {
    pipelineId: 'p',
    sensorId: 's1',
    metric: 't',
    start,
    end: start + 1000,
    count: 2,
    min: i,
    max: i + 1,
    mean: i + 0.5,
    sum: 2 * i + 1,
  }
}

run(`two aggregators behind one MQTT 5 broker and one PostgreSQL${missing}`, () => {
  it('share the up traffic with a $share subscription, store each record once and ack every batch', async () => {
    const tag = rand()
    const nodes = [1, 2, 3].map((i) => `rep-${tag}-${i}`)
    const schema = pgSchema()
    const clouds: Cloud[] = []
    const live = [0, 0]
    for (const i of [0, 1]) {
      const store = await openPostgresStore({ url: PG_URL, schema, poolSize: 2 })
      const cloud = await startCloud(
        {
          // one filter per node keeps these aggregators off other traffic on the machine's shared Mosquitto
          broker: {
            url: MOSQUITTO_URL,
            shareGroup: `fogline-test-${tag}`,
            filters: nodes.map((n) => `fogline/v1/${n}/up/#`),
          },
          store: { postgres: PG_URL },
          http: { host: '127.0.0.1', port: 0 },
          log: { level: 'silent' },
        },
        { store },
      )
      onTestFinished(() => cloud.stop())
      cloud.bus.on('summary', () => live[i]!++)
      clouds.push(cloud)
    }
    // one token works on both replicas: tokens live in the shared database
    const get = bearerFetch((await clouds[0]!.tokens.create({ name: `rep-${tag}`, role: 'viewer' })).token)
    const node = await mqtt.connectAsync(MOSQUITTO_URL, { protocolVersion: 5, reconnectPeriod: 0 })
    node.stream.setNoDelay?.(true)
    onTestFinished(() => node.endAsync(true))
    const acks: Ack[] = []
    node.on('message', (_t, p) => acks.push(decodeAck(p)))
    await node.subscribeAsync(
      nodes.map((n) => downTopic(n, 'ack')),
      { qos: 1 },
    )

    const perNode = 10
    let sent = 0
    for (const n of nodes) {
      for (let b = 0; b < perNode; b++) {
        const records = [1, 2, 3].map((k) => ({ seq: b * 3 + k, ts: 1, body: summary(b * 3 + k) }))
        const payload = encodeBatch({
          nodeId: n,
          stream: 'summary',
          batchId: `${n}-${b}`,
          sentAt: 1,
          records,
        })
        await node.publishAsync(upTopic(n, 'summary'), payload, { qos: 1 })
        sent++
        // every third batch is resent, as a node does when an ack is late
        if (b % 3 === 0) {
          await node.publishAsync(upTopic(n, 'summary'), payload, { qos: 1 })
          sent++
        }
      }
    }
    await until(
      () => new Set(acks.map((a) => a.batchId)).size === nodes.length * perNode,
      'every batch acked',
    )
    await until(() => acks.length >= sent, 'every send acked')
    const total = await clouds[0]!.store.countRecords({ stream: 'summary' })
    expect(total).toBe(nodes.length * perNode * 3) // exactly once, whichever replica stored it
    for (const n of nodes) {
      const seqs = (await clouds[1]!.store.querySummaries({ nodeId: n })).map((r) => r.seq)
      expect(seqs).toEqual(Array.from({ length: perNode * 3 }, (_, i) => i + 1))
    }
    // the broker split the work: both replicas stored some of it
    const inserted = async (c: Cloud) => {
      const text = await (await get(`${c.httpUrl}/metrics`)).text()
      const m = /fogline_cloud_records_total\{stream="summary",result="inserted"\} (\d+)/.exec(text)
      return Number(m?.[1] ?? 0)
    }
    const handled = [await inserted(clouds[0]!), await inserted(clouds[1]!)]
    expect(handled[0]! + handled[1]!).toBe(total)
    expect(handled[0]).toBeGreaterThan(0)
    expect(handled[1]).toBeGreaterThan(0)
    // and each replica's live stream carries every new summary, its own and (via LISTEN/NOTIFY) the other's
    await until(() => live[0] === total && live[1] === total, 'every summary on both live streams')
    // the fleet view agrees on both replicas (no state of their own)
    const a = (await (await get(`${clouds[0]!.httpUrl}/api/nodes`)).json()) as Array<{
      nodeId: string
      summaries: number
    }>
    const b = (await (await get(`${clouds[1]!.httpUrl}/api/nodes`)).json()) as Array<{
      nodeId: string
      summaries: number
    }>
    expect(a).toEqual(b)
    expect(a.map((x) => x.summaries)).toEqual([30, 30, 30])
  })
})
