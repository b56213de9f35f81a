import { waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ackingCloud, countPipeline, testNode } from '../fleet.js'
import { registerThrowingStage } from './throwing-stage.js'

describe('self-healing in a running node', () => {
  it('a throwing pipeline is restarted, then quarantined: reported up as an event, named by /readyz, while the other pipeline keeps producing', async () => {
    onTestFinished(registerThrowingStage())
    const { dir, broker, store } = await ackingCloud('fogline-heal-')
    const node = await testNode(dir.path, 'h1', broker.url, {
      ops: { http: { port: 0 }, supervisor: { maxRestarts: 2, backoff: '20ms', backoffMax: '100ms' } },
      pipelines: [
        { id: 'bad', input: ['sensors/bad/+'], stages: [{ type: 'explode' }], output: { stream: 'summary' } },
        countPipeline('good', 'sensors/good/+', 1),
      ],
    })
    const sensor = await mqtt.connectAsync(node.brokerUrl, { reconnectPeriod: 0 })
    onTestFinished(() => sensor.endAsync(true))
    const url = node.ops!.httpUrl!

    // keep both sensors publishing until the bad pipeline is quarantined; the good one must not notice
    let good = 0
    for (let i = 0; i < 400 && node.ops!.stats().pipelines['bad']?.state !== 'quarantined'; i++) {
      await sensor.publishAsync('sensors/bad/t', '1', { qos: 1 })
      await sensor.publishAsync('sensors/good/t', String(i), { qos: 1 })
      good++
      await new Promise((r) => setImmediate(r))
    }
    expect(node.ops!.stats().pipelines['bad']).toMatchObject({
      state: 'quarantined',
      failures: 3,
      restarts: 2,
    })
    await waitFor(() => (node.stats().outputs['summary'] ?? 0) === good, 'a summary for every good reading')

    // reported up: a critical event record reaches the cloud store
    const ev = await waitFor(
      () => store.bodies('h1', 'event').find((b) => b['name'] === 'pipeline-quarantined'),
      'the quarantine event in the cloud',
    )
    expect(ev).toMatchObject({
      severity: 'critical',
      detail: { pipeline: 'bad', error: { code: 'FOG_INTERNAL' } },
    })
    const r = await fetch(`${url}/readyz`)
    expect(r.status).toBe(503)
    expect(((await r.json()) as { reasons: Array<{ code: string; where: unknown }> }).reasons).toEqual([
      expect.objectContaining({ code: 'FOG_PIPELINE_QUARANTINED', where: { pipeline: 'bad' } }),
    ])
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toContain('fogline_node_pipeline_up{pipeline="bad",state="quarantined"} 0')
    expect(metrics).toContain('fogline_node_pipeline_restarts_total{pipeline="bad"} 2')
  })
})
