/**
 * bench/uplink-bytes: what the node uplinks, counted at the socket, against a plain MQTT bridge.
 *   - `fogline cloud` from dist/ (embedded broker, SQLite); `fogline node` from dist/ with its defaults (15-s
 *     heartbeat, batches, deflate 'auto'), uplinking through a counting proxy that reads the MQTT packets it
 *     carries (bench/lib/meter.ts): bytes up and down, per stream (up/summary, up/event, up/heartbeat,
 *     up/reported), acks (down/ack) and MQTT control packets;
 *   - the load: 1,000 sensor connections × 1 reading/s (bench/lib/sensors.ts) and ALARMS alarm readings/s
 *     (bench/lib/alarms.ts) into the factory-line pipeline with an alarm threshold, 1-min windows;
 *   - the sensors reach the node through a second counting proxy, so the readings' own PUBLISH bytes are
 *     measured the same way in the same run.
 * Baseline: a plain MQTT bridge forwards every reading as it came: one PUBLISH per reading, the same topic
 * and payload (the sensor-side PUBLISH bytes, measured), QoS 0; its QoS 1 cost adds 2 B of packet id up and a
 * 4-byte PUBACK down per reading (computed). What the bridge does not do: summarise, store-and-forward with
 * acks after the cloud's commit, heartbeats; a real bridge would also add its own topic prefix and keepalives.
 * Run: npm run build && node --conditions=source --import tsx bench/uplink-bytes.ts
 *   FOGLINE_BENCH_SECONDS=120 measured (two 1-min windows close in it), FOGLINE_BENCH_REPEAT=1
 * Figures from a shared 2-core machine are noisy: compare ratios within one run.
 */
import { join } from 'node:path'
import { runTsChild, tempDir } from '@fogline/testkit'
import { load, startCliCloud, startCliNode, startSensors } from './lib/fog.js'
import { type Counts, diff, startMeter, totalBytes } from './lib/meter.js'
import { alarmLinePipeline } from './lib/pipeline.js'
import { fmt, ROOT, sleep } from './lib/proc.js'

const env = process.env
const SECONDS = Number(env['FOGLINE_BENCH_SECONDS'] ?? '120')
const REPEAT = Number(env['FOGLINE_BENCH_REPEAT'] ?? '1')
const WARM = 10
const CONNS = 1000
const ALARMS = 1

interface Window {
  up: Counts
  down: Counts
  sensorsUp: Counts
  readings: number
  summaries: number
  events: number
  seconds: number
}

async function measure(dir: string): Promise<Window> {
  const cloud = await startCliCloud(join(dir, 'cloud'), 'sqlite')
  const upMeter = await startMeter(cloud.port)
  const prefix = `fb${Math.random().toString(36).slice(2, 6)}`
  const fog = await startCliNode(join(dir, 'node'), {
    nodeId: `bytes-${prefix}`,
    dataDir: join(dir, 'node', 'data'),
    broker: { host: '127.0.0.1', port: 0, limits: { maxConnections: CONNS + 100 } },
    uplink: { urls: [`mqtt://127.0.0.1:${upMeter.port}`] },
    log: { level: 'warn' },
    pipelines: [alarmLinePipeline('line', prefix, '1m')],
  })
  const sensorMeter = await startMeter(fog.port, fog.host)
  const life = SECONDS + WARM + 60
  const sensors = await startSensors('127.0.0.1', sensorMeter.port, prefix, CONNS, 1, 0, life)
  const alarms = runTsChild(join(ROOT, 'bench/lib/alarms.ts'), [
    '127.0.0.1',
    String(sensorMeter.port),
    prefix,
    '1',
    '20',
    String(ALARMS),
    String(life),
  ])
  try {
    await alarms.waitForLine(/^connected/)
    await sleep(WARM * 1000)
    const a = { m: upMeter.snapshot(), s: sensorMeter.snapshot(), st: fog.status(), t: performance.now() }
    await sleep(SECONDS * 1000)
    const b = { m: upMeter.snapshot(), s: sensorMeter.snapshot(), st: fog.status(), t: performance.now() }
    return {
      up: diff(b.m.up, a.m.up),
      down: diff(b.m.down, a.m.down),
      sensorsUp: diff(b.s.up, a.s.up),
      readings: b.st.readingsIn - a.st.readingsIn,
      summaries: b.st.summaries - a.st.summaries,
      events: b.st.events - a.st.events,
      seconds: (b.t - a.t) / 1000,
    }
  } finally {
    await sensors.run.kill9()
    await alarms.kill9()
    await fog.stop()
    await sensorMeter.close()
    await upMeter.close()
    await cloud.stop()
  }
}

function print(w: Window): void {
  const up = totalBytes(w.up)
  const down = totalBytes(w.down)
  const per = (c: Counts) =>
    Object.entries(c)
      .filter(([, v]) => v.packets > 0)
      .sort((x, y) => y[1].bytes - x[1].bytes)
      .map(([k, v]) => `${k} ${fmt(v.bytes)} B/${fmt(v.packets)}`)
      .join(', ')
  const hb = w.up['up/heartbeat']?.bytes ?? 0
  const raw = w.sensorsUp['sensors'] ?? { bytes: 0, packets: 0 }
  const bridge1Up = raw.bytes + 2 * raw.packets
  const bridge1Down = 4 * raw.packets
  console.log(
    `  node: up ${fmt(up / w.seconds)} B/s, down ${fmt(down / w.seconds)} B/s over ${w.seconds.toFixed(0)} s; ${fmt(w.readings)} readings in, ${fmt(w.summaries)} summaries, ${fmt(w.events)} events out`,
  )
  console.log(`    up by kind: ${per(w.up)}`)
  console.log(`    down by kind: ${per(w.down)}`)
  console.log(
    `    per summary ${fmt(up / w.summaries)} B up (summary stream alone ${fmt((w.up['up/summary']?.bytes ?? 0) / w.summaries)} B); per reading ingested ${(up / w.readings).toFixed(2)} B up; heartbeat ${fmt(hb / w.seconds)} B/s = ${((100 * hb) / up).toFixed(1)} % of up`,
  )
  console.log(
    `  bridge baseline (every reading forwarded as it came, measured at the sensor-side proxy): ${fmt(raw.packets)} PUBLISHes, QoS 0 up ${fmt(raw.bytes / w.seconds)} B/s (${(raw.bytes / raw.packets).toFixed(1)} B each); QoS 1 up ${fmt(bridge1Up / w.seconds)} B/s + down ${fmt(bridge1Down / w.seconds)} B/s (computed)`,
  )
  console.log(
    `  node / bridge: up ${(up / raw.bytes).toFixed(4)}x of QoS 0 (${(raw.bytes / up).toFixed(0)}x fewer bytes), up+down ${((up + down) / (bridge1Up + bridge1Down)).toFixed(4)}x of QoS 1`,
  )
}

async function main(): Promise<void> {
  console.log(
    `bench/uplink-bytes — 1,000 sensors x 1/s + ${ALARMS} alarm reading/s, factory-line + threshold, 1-min windows, ${SECONDS} s measured. Shared 2-core machine: figures are noisy, compare ratios within one run.`,
  )
  using dir = tempDir('fogline-bench-bytes-')
  for (let r = 0; r < REPEAT; r++) {
    console.log(`\nrun ${r + 1} of ${REPEAT} (${new Date().toISOString()}, load average ${load()})`)
    print(await measure(join(dir.path, `r${r}`)))
    console.log(`  (load average after: ${load()})`)
  }
}

await main()
process.exit(0)
