/**
 * bench/node-ingest: a whole fog node taking sensor readings, side by side with its peers, on the same load.
 * The load: 1,000 sensors, JSON `{"value":…,"ts":…}` on `<run>/sensors/<id>/temperature`, QoS 0, from a
 * publisher child process (4 mqtt.js connections with TCP_NODELAY, writing pre-encoded PUBLISH packets so the
 * load generator costs little CPU) — either as fast as the broker takes them (TCP backpressure) or paced.
 * The pipeline: json decode → validate → deadband 0.05 → 1-min tumbling window, 6 aggregates (as bench/pipeline).
 *   1. ingest: the fog node (startNode in this process) readings/s (node.stats().readingsIn) vs Mosquitto
 *      127.0.0.1:1883 forwarding the same load to one subscriber child on `<run>/sensors/#` (msgs/s it got) vs
 *      bare aedes (port 0, noDelay, in this process) forwarding it; plus @fogline/broker with no pipeline. The
 *      subscriber is a minimal MQTT client that only counts PUBLISH packets, so it does not cap the brokers.
 *      CPU per reading of the process doing the work (Mosquitto's or this one) is shown too: it does not
 *      depend on how the 2 cores are shared between broker, publisher and subscriber.
 *   2. memory: the fog node CLI (`fogline node --config`) from the current sources bundled to plain JS, as a
 *      child, idle and paced at 10k readings/s for 20 s, VmRSS from /proc; baselines bare Node and bare aedes
 *      (plain node children, same paced load); and the same node with --max-semi-space-size=1.
 *   3. Node-RED 4 doing the same work (mqtt in → json → function: validate, deadband, per-sensor 1-min window
 *      with the same 6 aggregates in context); installed on demand into bench/.node-red, never by npm ci.
 * Fairness of 3: Node-RED has no broker of its own, so each system runs as it would on a gateway: the sensors
 * publish to the fog node's embedded broker, or to Mosquitto with Node-RED subscribed to it. "Readings/s" is
 * what each system's aggregation step processed (fog node: readingsIn, each goes through the pipeline
 * synchronously; Node-RED: messages counted at the function node). Mosquitto gets its own process (and core)
 * in the Node-RED stack, which favours Node-RED on throughput, so CPU per reading of Node-RED alone and of
 * Node-RED + Mosquitto are reported too; memory compares the Node-RED process alone (Mosquitto excluded,
 * again in Node-RED's favour). Node-RED's function closes a window only when the sensor's next reading is in
 * a new minute (no timer) and sends summaries nowhere, which is less work than the fog node does (windows
 * closed on a timer, summaries into the SQLite outbox). The fog node's uplink points at a closed port (no
 * cloud), so no uplink traffic is in any figure.
 * Run: node --conditions=source --import tsx bench/node-ingest.ts  (npm run bench:node)
 *   FOGLINE_BENCH_SECONDS=4 measured seconds per throughput case, FOGLINE_BENCH_ROUNDS=2 (best of),
 *   FOGLINE_BENCH_RSS_SECONDS=20 paced run, FOGLINE_BENCH_NODE_RED=0 skips Node-RED,
 *   FOGLINE_BENCH_NODE_FLAGS='--max-semi-space-size=2' extra node flags for the fog node child,
 *   FOGLINE_BENCH_PUB=mqttjs publishes through mqtt.js publish() instead of pre-encoded packets.
 * Figures from a shared 2-core machine are noisy: compare the ratios within one run, not across runs.
 */
import { join } from 'node:path'
import { startBroker } from '@fogline/broker'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import { mosquittoAvailable, runTsChild, startTestBroker, tempDir } from '@fogline/testkit'
import { closedPort, fmt, mosquittoPid, track } from './lib/proc.js'
import { runSubscriber } from './lib/subscriber.js'
import { memoryBench } from './node-ingest/memory.js'
import { nodeRedBench } from './node-ingest/node-red.js'
import {
  loadRun,
  MOSQUITTO,
  nodeConfigInput,
  publisherRole,
  ROUNDS,
  type Run,
  ratio,
  row,
  SELF,
  SENSORS,
  table,
} from './node-ingest/shared.js'

// ---------------------------------------------------------------------------------------- 1. ingest
async function ingestBench(prefix: string, mosq: number | undefined): Promise<number> {
  console.log(`\n1. ingest, ${SENSORS} sensors, QoS 0 as fast as each broker takes it, best of ${ROUNDS}`)
  using dir = tempDir('fogline-bench-node-')
  const node = await startNode(
    parseConfig(NodeConfig, nodeConfigInput(prefix, join(dir.path, 'node'), await closedPort())),
  )
  const aedes = await startTestBroker()
  let brokerOnly = 0
  const fogBroker = await startBroker({ port: 0, onMessage: () => void brokerOnly++ })
  const local = (url: string) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })
  const best: Record<string, Run> = {}
  const keep = (k: string, r: Run) => {
    if (!best[k] || r.rate > best[k].rate) best[k] = r
    console.log(
      `  ${k.padEnd(26)} ${fmt(r.rate).padStart(9)}/s  (publisher offered ${fmt(r.offered)}/s, CPU ${Object.entries(
        r.cpuPct,
      )
        .map(([p, v]) => `${p} ${v.toFixed(0)} %`)
        .join(', ')})`,
    )
  }
  const forward = async (target: { host: string; port: number }, watch: Record<string, number>) => {
    const sub = runTsChild(SELF, ['--sub', target.host, String(target.port), `${prefix}/sensors/#`])
    try {
      await sub.waitForLine(/^sub ready/)
      // loadRun returns once the subscriber has everything: aedes queues what it cannot forward yet (no
      // backpressure to QoS 0 publishers), and a subscriber that leaves with that queue full makes mqemitter
      // recurse once per queued message until the stack overflows (mcollina/mqemitter#204)
      return await loadRun(target, prefix, track(sub.child, /^n (\d+) (\d+)/), watch, {
        also: { sub: sub.pid },
      })
    } finally {
      await sub.kill9()
    }
  }
  try {
    for (let r = 0; r < ROUNDS; r++) {
      if (mosq !== undefined) keep('mosquitto', await forward(MOSQUITTO, { mosquitto: mosq }))
      keep('aedes', await forward(local(aedes.url), { aedes: process.pid }))
      const bo = () => ({ t: Date.now(), n: brokerOnly })
      keep('broker-only', await loadRun(local(fogBroker.url), prefix, bo, { 'fog broker': process.pid }))
      const fog = () => ({ t: Date.now(), n: node.stats().readingsIn })
      keep('fog', await loadRun(local(node.brokerUrl), prefix, fog, { 'fog node': process.pid }))
    }
    const s = node.stats()
    console.log(
      `  fog node: ${fmt(s.readingsIn)} readings in, ${s.malformed} malformed, ${s.deadLetters} dead letters, ` +
        `${fmt(s.outputs.summary ?? 0)} summaries`,
    )
  } finally {
    await node.stop()
    await aedes.close()
    await fogBroker.close()
  }
  const fog = best['fog']!
  const a = best['aedes']!
  const m = best['mosquitto']
  console.log('')
  if (m) row('Mosquitto forwarding: 4 pubs → Mosquitto → 1 sub (msg/s)', fmt(m.rate), 'baseline')
  row(
    'bare aedes forwarding, port 0, noDelay (msg/s)',
    fmt(a.rate),
    m ? `${ratio(a.rate, m.rate)}x Mosquitto` : '',
  )
  row(
    '@fogline/broker ingest, no pipeline (msg/s)',
    fmt(best['broker-only']!.rate),
    m ? `${ratio(best['broker-only']!.rate, m.rate)}x Mosquitto` : '',
  )
  row(
    'fog node ingest, pipeline on (readings/s)',
    fmt(fog.rate),
    m
      ? `${ratio(fog.rate, m.rate)}x Mosquitto (target >= 1.0), ${ratio(fog.rate, a.rate)}x bare aedes`
      : `${ratio(fog.rate, a.rate)}x bare aedes`,
  )
  const cpu = (r: Run) => r.cpuUs[r.sut]!
  row(
    'CPU µs per reading: Mosquitto | aedes | broker-only | fog node',
    [m ? cpu(m) : Number.NaN, cpu(a), cpu(best['broker-only']!), cpu(fog)]
      .map((x) => x.toFixed(1))
      .join(' | '),
    m ? `fog node ${ratio(cpu(fog), cpu(m))}x Mosquitto's CPU per reading` : '',
  )
  return fog.rate
}

// ---------------------------------------------------------------------------------------- main
const role = process.argv[2]
if (role === '--pub') {
  const [host, port, prefix, rate, seconds] = process.argv.slice(3)
  await publisherRole(host!, Number(port), prefix!, Number(rate), Number(seconds))
} else if (role === '--sub') {
  const [host, port, filter] = process.argv.slice(3)
  await runSubscriber(host!, Number(port), filter!)
} else {
  await main()
  process.exit(0)
}

async function main(): Promise<void> {
  console.log(
    'bench/node-ingest — shared 2-core machine: figures are noisy, compare the ratios within one run',
  )
  const t0 = performance.now()
  const prefix = `fb${Math.random().toString(36).slice(2, 6)}`
  const mosq = (await mosquittoAvailable(4)) ? mosquittoPid() : undefined
  if (mosq === undefined)
    console.log('Mosquitto is not on 127.0.0.1:1883 (or its pid is unknown): its rows are skipped')
  using dir = tempDir('fogline-bench-node-')
  const took = (t: number) => console.log(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`)
  let t = performance.now()
  await ingestBench(prefix, mosq)
  took(t)
  t = performance.now()
  const mem = await memoryBench(prefix, dir.path)
  took(t)
  try {
    t = performance.now()
    await nodeRedBench(prefix, dir.path, mem, mosq)
    took(t)
  } finally {
    await mem.fogChild.proc.stop()
  }
  console.log(`\nsummary (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
  for (const [what, figure, vs] of table) console.log(`${what.padEnd(66)} ${figure.padStart(14)}  ${vs}`)
}
