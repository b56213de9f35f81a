import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ackingCloud, countPipeline, testNode } from '../fleet.js'
import { names, scrape, val } from './scrape.js'

const repo = join(import.meta.dirname, '..', '..')
/** a scrape's readings counter of one pipeline */
const readings = (m: Map<string, number>, pipeline: string) =>
  val(m, `fogline_node_readings_total{pipeline="${pipeline}"}`)

describe('node /metrics', () => {
  it('counters move by exactly the known traffic: readings per pipeline, backlog while offline, uplink state', async () => {
    const { dir, broker: cloudBroker, store } = await ackingCloud('fogline-metrics-')
    const node = await testNode(dir.path, 'm1', cloudBroker.url, {
      uplink: { reconnect: { min: '50ms', max: '200ms' } },
      ops: { http: { port: 0 } },
      pipelines: [countPipeline('temps', 'sensors/+/temp', 2), countPipeline('hums', 'sensors/+/hum', 3)],
    })
    const url = node.ops!.httpUrl!
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/) // loopback by default
    await waitFor(() => node.stats().connected, 'uplink connected')
    const sensor = await mqtt.connectAsync(node.brokerUrl, { reconnectPeriod: 0 })
    onTestFinished(() => sensor.endAsync(true))
    const send = async (metric: string, n: number) => {
      for (let i = 0; i < n; i++) await sensor.publishAsync(`sensors/s1/${metric}`, String(i), { qos: 1 })
    }

    const before = await scrape(url)
    await send('temp', 10)
    await send('hum', 6)
    await waitFor(() => node.stats().readingsIn === 16, '16 readings taken')
    await waitFor(() => store.count() === 5 + 2 && node.stats().backlogRecords === 0, 'summaries acked')
    const online = await scrape(url)
    expect(readings(online, 'temps') - readings(before, 'temps')).toBe(10)
    expect(readings(online, 'hums') - readings(before, 'hums')).toBe(6)
    expect(val(online, 'fogline_node_uplink_connected')).toBe(1)
    expect(val(online, 'fogline_node_outbox_records')).toBe(0)
    // the QoS 1 readings went through the ingest journal: each one, with its bytes; no QoS 2 id is held
    const journaled = (m: Map<string, number>) => val(m, 'fogline_node_journal_readings_total')
    expect(journaled(online) - journaled(before)).toBe(16)
    const bytes =
      val(online, 'fogline_node_journal_bytes_total') - val(before, 'fogline_node_journal_bytes_total')
    expect(bytes).toBeGreaterThan(16 * 30)
    expect(val(online, 'fogline_node_journal_replayed_readings')).toBe(0)
    expect(val(online, 'fogline_node_qos2_held_ids')).toBe(0)
    expect(val(online, 'fogline_node_qos2_resends_total')).toBe(0)

    // the cloud goes away: the same traffic now stays in the outbox, exactly 5 + 2 summaries
    await store.close()
    await cloudBroker.close()
    await waitFor(() => !node.stats().connected, 'uplink offline')
    await send('temp', 10)
    await send('hum', 6)
    await waitFor(() => node.stats().backlogRecords === 7, 'seven summaries held')
    const offline = await scrape(url)
    expect(readings(offline, 'temps') - readings(online, 'temps')).toBe(10)
    expect(readings(offline, 'hums') - readings(online, 'hums')).toBe(6)
    expect(val(offline, 'fogline_node_uplink_connected')).toBe(0)
    expect(val(offline, 'fogline_node_outbox_records')).toBe(7)
    expect(val(offline, 'fogline_node_outbox_oldest_unsent_seconds')).toBeGreaterThanOrEqual(0)
    // nothing was dropped in either phase
    expect([...offline].filter(([k, v]) => k.startsWith('fogline_node_dropped_total') && v > 0)).toEqual([])
    // process metrics from prom-client: RSS and event-loop lag
    expect(val(offline, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024)
    expect(offline.has('nodejs_eventloop_lag_p99_seconds')).toBe(true)
    expect(offline.has('fogline_node_checkpoint_seconds_count')).toBe(true)

    // every metric the Grafana dashboard and the alert rules use is served
    const served = names(offline)
    const used = (file: string) =>
      new Set(
        [
          ...readFileSync(join(repo, 'configs/observability', file), 'utf8').matchAll(
            /\b((?:fogline_node|process|nodejs)_[a-z0-9_]+)/g,
          ),
        ].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')),
      )
    for (const f of ['grafana-fogline-node.json', 'fogline-alerts.yml'])
      expect(
        [...used(f)].filter((n) => !served.has(n)),
        `${f} uses metrics the node does not serve`,
      ).toEqual([])
  })
})
