/**
 * bench/gateway-footprint: RSS and CPU of the fog node running from the INSTALLED tarball, started exactly
 * as its unit starts it (ExecStart, User, Environment=NODE_OPTIONS from /etc/systemd/system/fogline-node.service),
 * idle and with 1,000 sensors × 1 Hz.
 * The load: 1,000 mqtt.js connections from this process (one per sensor, as real sensors connect), each
 * publishing `{"value":…,"ts":…}` QoS 0 once a second, phases spread evenly over the second. The pipeline is
 * the example gateway config's: JSON decode → 1-min tumbling window (count, min, max, mean). The uplink goes to
 * a cloud in this process (embedded broker and SQLite store), so uplinking summaries is in the figures.
 * Measured: /proc/PID/stat utime+stime over wall time (CPU % of one core) and /proc/PID/status VmRSS sampled
 * every second (mean and max), after a warm-up; readings/s from the node's /metrics.
 * Needs root and an install: npm run pack:gateway && sudo sh deploy/install.sh dist-gateway/fogline-*.tar.gz
 * Run: node --conditions=source --import tsx bench/gateway-footprint.ts
 *   FOGLINE_BENCH_IDLE_SECONDS=30, FOGLINE_BENCH_LOAD_SECONDS=60, FOGLINE_BENCH_SENSORS=1000
 * Figures from a shared 2-core machine are noisy: other processes compete for the cores.
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { startCloud } from '@fogline/cloud'
import { tempDir, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { readServiceUnit } from '../test/deploy/unit-file.js'

const env = process.env
const IDLE_S = Number(env['FOGLINE_BENCH_IDLE_SECONDS'] ?? '30')
const LOAD_S = Number(env['FOGLINE_BENCH_LOAD_SECONDS'] ?? '60')
const SENSORS = Number(env['FOGLINE_BENCH_SENSORS'] ?? '1000')
const WARM_S = 10
const UNIT = '/etc/systemd/system/fogline-node.service'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12]) // utime + stime
}
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

async function measure(pid: number, seconds: number) {
  const c0 = cpuTicks(pid)
  const t0 = performance.now()
  const rss: number[] = []
  for (let i = 0; i < seconds; i++) {
    await sleep(1000)
    rss.push(rssKiB(pid))
  }
  const cpu = ((cpuTicks(pid) - c0) / TICK / ((performance.now() - t0) / 1000)) * 100
  return { cpu, rssMean: rss.reduce((a, b) => a + b, 0) / rss.length / 1024, rssMax: Math.max(...rss) / 1024 }
}

async function readingsTotal(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text()
  let n = 0
  for (const m of text.matchAll(/^fogline_node_readings_total\{[^}]*\} (\d+)/gm)) n += Number(m[1])
  return n
}

async function main() {
  const unit = readServiceUnit(UNIT)
  const dir = tempDir('fogline-footprint-')
  const cloud = await startCloud({
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    store: { sqlite: dir.file('cloud.db') },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  })
  const dataDir = `/var/lib/fogline/footprint-${process.pid}`
  execFileSync('install', ['-d', '-o', 'fogline', '-g', 'fogline', '-m', '0750', dataDir])
  const saved = readFileSync('/etc/fogline/node.yaml', 'utf8')
  writeFileSync(
    '/etc/fogline/node.yaml',
    [
      'nodeId: footprint',
      `dataDir: ${dataDir}`,
      'broker: { host: 127.0.0.1, port: 0 }',
      `uplink: { urls: ["${cloud.brokerUrl}"] }`,
      'ops: { http: { host: 127.0.0.1, port: 0 } }',
      'log: { level: warn }',
      'pipelines:',
      '  - id: temperatures',
      '    input: ["sensors/+/+"]',
      '    decoder: { type: json, value: "$.value", ts: "$.ts" }',
      '    stages: [{ type: window, kind: tumbling, size: 1m, aggregates: [count, min, max, mean] }]',
      '    output: { stream: summary }',
      '',
    ].join('\n'),
  )
  const uid = Number(execFileSync('id', ['-u', unit.user], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', unit.group], { encoding: 'utf8' }))
  const [cmd, ...args] = unit.execStart
  const child = spawn(cmd!, args, {
    uid,
    gid,
    cwd: unit.workingDirectory,
    env: { PATH: '/usr/bin:/bin', ...unit.environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (b) => (out += b))
  child.stderr.on('data', (b) => (out += b))
  const cleanup = () => {
    child.kill('SIGTERM')
    writeFileSync('/etc/fogline/node.yaml', saved)
    rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    const url = await waitFor(
      () => /sensors publish to (mqtt:\/\/\S+)/.exec(out)?.[1],
      `broker URL in ${out}`,
      30_000,
    )
    const metricsUrl = await waitFor(
      () => /metrics on (http:\/\/[^/\s]+)/.exec(out)?.[1],
      `metrics URL in ${out}`,
      30_000,
    )
    const pid = child.pid!
    await sleep(WARM_S * 1000)
    const idle = await measure(pid, IDLE_S)

    const clients = await Promise.all(
      Array.from({ length: SENSORS }, (_, i) =>
        mqtt.connectAsync(url, { clientId: `sensor-${i}`, reconnectPeriod: 1000, keepalive: 60 }),
      ),
    )
    const timers: NodeJS.Timeout[] = []
    clients.forEach((c, i) => {
      const topic = `sensors/s${i}/temperature`
      // phases spread over the second, as independent sensors are
      timers.push(
        setTimeout(
          () => {
            timers.push(
              setInterval(
                () => c.publish(topic, `{"value":${(20 + Math.random()).toFixed(2)},"ts":${Date.now()}}`),
                1000,
              ),
            )
          },
          (i * 1000) / SENSORS,
        ),
      )
    })
    await sleep(WARM_S * 1000)
    const r0 = await readingsTotal(metricsUrl)
    const t0 = performance.now()
    const load = await measure(pid, LOAD_S)
    const rate = ((await readingsTotal(metricsUrl)) - r0) / ((performance.now() - t0) / 1000)
    for (const t of timers) clearInterval(t)
    await Promise.all(clients.map((c) => c.endAsync(true)))

    const row = (what: string, m: Awaited<ReturnType<typeof measure>>, extra: string) =>
      `| ${what} | ${m.rssMean.toFixed(0)} | ${m.rssMax.toFixed(0)} | ${m.cpu.toFixed(1)} | ${extra} |`
    console.log(
      `fog node from ${cmd} ${args.join(' ')} (NODE_OPTIONS=${unit.environment['NODE_OPTIONS']}), node ${process.version}, ${process.arch}`,
    )
    console.log('| load | RSS mean MiB | RSS max MiB | CPU % of one core | readings/s taken |')
    console.log('|---|---|---|---|---|')
    console.log(row(`idle (${IDLE_S} s)`, idle, '0'))
    console.log(row(`${SENSORS} sensors × 1 Hz, ${SENSORS} connections (${LOAD_S} s)`, load, rate.toFixed(0)))
    console.log('Figures from a shared 2-core machine are noisy.')
  } finally {
    cleanup()
    await cloud.stop()
    dir.remove()
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
