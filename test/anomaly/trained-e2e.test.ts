import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { EventRow } from '@fogline/cloud'
import type { FogNode } from '@fogline/node'
import { generateDesiredKeyPair, parseConfig, SimConfig, type TrustedKey } from '@fogline/protocol'
import { buildSensors, type GroundTruth, type SimSensor } from '@fogline/simulators'
import { startFaultProxy, tempDir, waitFor } from '@fogline/testkit'
import type { MqttClient } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { sensors as sensorClient, testCloud, testNode } from '../fleet.js'

/**
 * Cloud training end to end, on real parts (embedded aedes, SQLite, the real cloud and two real nodes):
 * simulated sensors (pressure and flow, 1 Hz, timestamps in simulated time so 80 minutes play in seconds)
 * feed the same readings to node `trained` and node `untrained`. Period 1 (40 min, clean): both score with
 * the fallback `context` detector and uplink 1-minute summaries. The cloud trains `trained` from them
 * (POST /api/models/train, as `fogline train --node trained`) and pushes the models signed with its
 * models-only key. Period 2 (40 min): spikes, level shifts and drifts with ground truth, and a pressure
 * sensor the model has never seen (it starts from its class's model); `trained`'s uplink is cut for 15
 * minutes of it. Precision and recall are counted on the events the cloud stored.
 */
const MIN = 60_000
const P1 = 40 * MIN
const P2 = 40 * MIN
const METRICS = ['pressure', 'flow'] as const
const WINDOW_AGGS = ['count', 'min', 'max', 'mean', 'sum', 'stddev']

const trusted = (publicKey: string, scopes: TrustedKey['scopes']): TrustedKey => ({
  publicKey,
  scopes,
  notAfter: Date.now() + 86_400_000,
})

function pipelines() {
  return METRICS.map((metric) => ({
    id: `detect-${metric}`,
    input: [`sensors/+/${metric}`],
    decoder: { type: 'json', value: '$.value', ts: '$.ts' },
    stages: [
      // the model the cloud trains is named after its class (metric); until it arrives: context
      { type: 'anomaly', model: metric, fallback: { kind: 'context' } },
      { type: 'window', kind: 'tumbling', size: '1m', time: 'event', aggregates: WINDOW_AGGS },
    ],
    output: [
      { stream: 'event', priority: 0 },
      { stream: 'summary', priority: 5 },
    ],
  }))
}

function scenario(t0: number, period: 1 | 2) {
  const anomalies = (i: number) =>
    period === 1
      ? []
      : [
          { kind: 'spike', at: `${4 + i}m`, duration: '1s', magnitude: 6 },
          { kind: 'level', at: `${12 + i}m`, duration: '3m', magnitude: 3 },
          { kind: 'drift', at: `${24 + i}m`, duration: '5m', magnitude: 5 },
          { kind: 'spike', at: `${33 + i}m`, duration: '1s', magnitude: -6 },
        ]
  const spec = (id: string, metric: string, base: number, noise: number, i: number) => ({
    id,
    metric,
    rate: 1,
    base,
    noise,
    anomalies: anomalies(i).map((a) => ({ ...a, magnitude: a.magnitude * noise })),
  })
  const sensors = [
    ...[0, 1, 2].map((i) => spec(`p${i}`, 'pressure', 50, 1, i)),
    ...[0, 1, 2].map((i) => spec(`f${i}`, 'flow', 10, 0.2, i)),
    // a sensor the trained model has never seen: scored from its class's model
    ...(period === 2 ? [spec('p-new', 'pressure', 50, 1, 3)] : []),
  ]
  return buildSensors(parseConfig(SimConfig, { url: 'mqtt://unused:1883', seed: 7 + period, sensors }), t0)
}

/** Play readings in time order to every node's broker (QoS 0, paced by the nodes' own counts). */
async function play(
  sims: SimSensor[],
  end: number,
  to: { client: MqttClient; node: FogNode }[],
  at?: { ts: number; run: () => void | Promise<void> },
) {
  let sent = 0
  const base = to.map((t) => t.node.stats().readingsIn)
  const caughtUp = () =>
    waitFor(() => to.every((t, i) => t.node.stats().readingsIn >= base[i]! + sent), 'readings in', 30_000)
  let hook = at
  for (;;) {
    let next: SimSensor | undefined
    for (const s of sims) if (!next || s.due < next.due) next = s
    if (!next || next.due >= end) break
    if (hook && next.due >= hook.ts) {
      await caughtUp()
      await hook.run()
      hook = undefined
    }
    const r = next.next(next.due)
    next.due += next.periodMs
    if (!r) continue
    for (const t of to) t.client.publish(next.topic, r.payload, { qos: 0 })
    if (++sent % 1000 === 0) await caughtUp()
  }
  await caughtUp()
}

function score(events: EventRow[], truth: GroundTruth[], from: number) {
  const ev = events.filter((e) => e.ts >= from && e.kind === 'anomaly')
  const inside = (e: EventRow, g: GroundTruth, grace: number) =>
    e.sensorId === g.sensor && e.ts >= g.start && e.ts < Math.max(g.end, g.start + 1000) + grace
  const found = truth.filter((g) => ev.some((e) => inside(e, g, 2000)))
  const right = ev.filter((e) => truth.some((g) => inside(e, g, 5000)))
  return {
    events: ev.length,
    recall: found.length / truth.length,
    precision: ev.length === 0 ? 0 : right.length / ev.length,
    found,
  }
}

describe('models trained in the cloud, end to end', () => {
  it('the cloud trains from period 1 and pushes the models; in period 2 the trained node flags more of the injected anomalies, also while its uplink is cut', async () => {
    const d = tempDir('fogline-train-e2e-')
    onTestFinished(() => d.remove())
    const operator = generateDesiredKeyPair()
    const training = generateDesiredKeyPair()
    const keyFile = join(d.path, 'training.pem')
    writeFileSync(keyFile, training.privateKeyPem, { mode: 0o600 })
    const keys = [
      trusted(operator.publicKeyRaw, ['pipelines', 'models', 'uplink']),
      trusted(training.publicKeyRaw, ['models']),
    ]
    const cloud = await testCloud(d.path, {
      config: { operatorKeys: keys, training: { key: keyFile, lookback: '30d', holdBack: 0.25 } },
    })
    const { token } = await cloud.tokens.create({ name: 'trainer', role: 'operator' })
    const proxy = await startFaultProxy(Number(new URL(cloud.brokerUrl).port))
    onTestFinished(() => proxy.close())
    const nodeConfig = {
      pipelines: pipelines(),
      desiredKeys: keys,
      uplink: { heartbeat: '200ms', linger: '2ms' },
    } as const
    const trained = await testNode(d.path, 'trained', proxy.url, nodeConfig)
    const untrained = await testNode(d.path, 'untrained', cloud.brokerUrl, nodeConfig)
    const to = [
      { node: trained, client: await sensorClient(trained.brokerUrl) },
      { node: untrained, client: await sensorClient(untrained.brokerUrl) },
    ]

    // period 1: clean data, scored by the fallback detector, summarised for the cloud
    const t0 = Math.floor((Date.now() - 3 * 3_600_000) / MIN) * MIN
    await play(scenario(t0, 1), t0 + P1, to)
    await waitFor(
      async () => (await cloud.store.querySummaries({ nodeId: 'trained' })).length >= 6 * 39,
      'period 1 summaries in the cloud',
      30_000,
    )

    const res = await fetch(`${cloud.httpUrl}/api/models/train`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ node: 'trained' }),
    })
    const result = await res.json()
    console.log(`training: ${JSON.stringify(result.models)}`)
    expect(res.status).toBe(200)
    expect(result.published).toBeGreaterThan(0)
    expect(result.models.map((m: { name: string; outcome: string }) => `${m.name}:${m.outcome}`)).toEqual([
      'flow:published',
      'pressure:published',
    ])
    await waitFor(
      () => trained.engine.models.get('pressure')?.version === result.published,
      'models applied',
      15_000,
    )
    const pressure = trained.engine.models.get('pressure')!
    expect(pressure).toMatchObject({ kind: 'gaussian', trainedAt: result.at })
    expect(untrained.engine.models.names()).toEqual([])
    // the fleet view shows each node's model versions and when they were trained
    await waitFor(
      async () => (await cloud.fleet.get('trained'))?.models.pressure?.version === result.published,
      'model version in the fleet view',
    )
    expect((await cloud.fleet.get('trained'))!.models.flow).toMatchObject({
      kind: 'gaussian',
      trainedAt: result.at,
    })

    // training again on the same data finds nothing better: the model in force is kept
    const again = await (
      await fetch(`${cloud.httpUrl}/api/models/train`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ node: 'trained' }),
      })
    ).json()
    expect(again.published).toBeNull()
    expect(again.models.every((m: { outcome: string }) => m.outcome === 'kept')).toBe(true)

    // period 2: anomalies; the trained node's uplink is cut from minute 10 to 25
    const t1 = t0 + P1
    const p1Events: Record<string, number> = {
      trained: trained.stats().outputs.event ?? 0,
      untrained: untrained.stats().outputs.event ?? 0,
    }
    const sims = scenario(t1, 2)
    const truth = sims.flatMap((s) => s.groundTruth())
    const arrivals: { stream: string; ts: number }[] = []
    const cutFrom = t1 + 10 * MIN
    const cutTo = t1 + 25 * MIN
    const onEvent = (e: EventRow) => e.nodeId === 'trained' && arrivals.push({ stream: 'event', ts: e.ts })
    const onSummary = (s: { nodeId: string; start: number }) =>
      s.nodeId === 'trained' && arrivals.push({ stream: 'summary', ts: s.start })
    cloud.bus.on('event', onEvent)
    cloud.bus.on('summary', onSummary)
    onTestFinished(() => {
      cloud.bus.off('event', onEvent)
      cloud.bus.off('summary', onSummary)
    })
    await play(sims, cutFrom, to)
    await waitFor(() => trained.stats().backlogRecords === 0, 'backlog sent before the cut', 15_000)
    proxy.cut()
    await play(sims, cutTo, to)
    const heldEvents = trained.stats().outputs.event ?? 0
    expect(trained.stats().connected).toBe(false)
    arrivals.length = 0
    proxy.pass()
    await play(sims, t1 + P2, to)
    const stored = async (nodeId: string) => {
      const sent = (nodeId === 'trained' ? trained : untrained).stats().outputs.event ?? 0
      const ev = await cloud.store.queryEvents({ nodeId, from: t1, limit: 100_000 })
      return ev.length >= sent - p1Events[nodeId]! ? ev : null
    }
    const evTrained = await waitFor(() => stored('trained'), 'trained node events stored', 30_000)
    const evUntrained = await waitFor(() => stored('untrained'), 'untrained node events stored', 30_000)
    expect(heldEvents).toBeGreaterThan(0)

    // what was held during the cut: its events reached the cloud before any of its summaries
    const cutArrivals = arrivals.filter((a) => a.ts >= cutFrom && a.ts < cutTo)
    const firstSummary = cutArrivals.findIndex((a) => a.stream === 'summary')
    const cutEvents = cutArrivals.filter((a) => a.stream === 'event')
    expect(cutEvents.length).toBeGreaterThan(0)
    expect(cutArrivals.slice(0, firstSummary).filter((a) => a.stream === 'event')).toHaveLength(
      cutEvents.length,
    )

    const t = score(evTrained, truth, t1)
    const u = score(evUntrained, truth, t1)
    const during = truth.filter((g) => g.start >= cutFrom && g.start < cutTo)
    const foundDuring = t.found.filter((g) => g.start >= cutFrom && g.start < cutTo)
    const newSensor = truth.filter((g) => g.sensor === 'p-new')
    console.log(
      `trained-e2e: ${truth.length} injected; trained: ${t.events} events, precision ${t.precision.toFixed(3)}, recall ${t.recall.toFixed(3)} ` +
        `(${foundDuring.length}/${during.length} while cut, new sensor ${t.found.filter((g) => g.sensor === 'p-new').length}/${newSensor.length}); ` +
        `untrained (context): ${u.events} events, precision ${u.precision.toFixed(3)}, recall ${u.recall.toFixed(3)}`,
    )
    expect(t.recall).toBeGreaterThan(u.recall)
    expect(t.recall).toBeGreaterThanOrEqual(0.9)
    expect(t.precision).toBeGreaterThanOrEqual(0.9)
    expect(foundDuring.length).toBe(during.length)
    expect(t.found.filter((g) => g.sensor === 'p-new').length).toBe(newSensor.length)
  }, 120_000)
})
