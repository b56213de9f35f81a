/**
 * Node-RED 4 for bench/node-ingest.ts: installed on demand into bench/.node-red (gitignored, never part of
 * `npm ci`), run as a plain child process with a generated settings file and flow (no editor, no admin API).
 * The flow: mqtt in (QoS 0) → json → function (validate → deadband 0.05 → per-sensor 1-min window with
 * count/min/max/mean/sum/stddev, state in the node's context). The function counts every message it gets and
 * prints `fogbench count=<n> t=<epoch ms>` every 250 ms through node.warn, which the bench reads.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const NODE_RED_PREFIX = join(dirname(fileURLToPath(import.meta.url)), '..', '.node-red')
const RED_JS = join(NODE_RED_PREFIX, 'node_modules', 'node-red', 'red.js')

/** Path of red.js, installing node-red@4 first when it is not there; undefined (with the reason) when it cannot. */
export function ensureNodeRed(): { redJs: string; version: string } | { error: string } {
  if (!existsSync(RED_JS)) {
    console.log(`installing node-red@4 into ${NODE_RED_PREFIX} (once; not part of npm ci) …`)
    const r = spawnSync(
      'npm',
      ['install', '--prefix', NODE_RED_PREFIX, 'node-red@4', '--no-audit', '--no-fund', '--loglevel=error'],
      { encoding: 'utf8', timeout: 180_000 },
    )
    if (r.status !== 0 || !existsSync(RED_JS))
      return {
        error: `npm install node-red@4 failed: ${(r.stderr || r.error?.message || '').trim().slice(-300)}`,
      }
  }
  const pkg = spawnSync(process.execPath, ['-p', 'require("./package.json").version'], {
    cwd: dirname(RED_JS),
    encoding: 'utf8',
  })
  return { redJs: RED_JS, version: pkg.stdout.trim() }
}

// validate → deadband → tumbling 1-min window per sensor/metric (Welford for stddev); the window is closed when
// the sensor's next reading falls into a new minute (lighter than the fog node, which closes on a timer)
const FUNC = `const st = context.get('st')
st.n++
const v = msg.payload && msg.payload.value
if (typeof v !== 'number' || !(v >= -50 && v <= 150)) { st.invalid++; return null }
const key = msg.topic
const last = st.last.get(key)
if (last !== undefined && !(Math.abs(v - last) > 0.05)) return null
st.last.set(key, v)
const now = Date.now()
const start = now - (now % 60000)
let w = st.win.get(key)
let out = null
if (w === undefined || w.start !== start) {
  if (w !== undefined) {
    const p = key.split('/')
    out = { topic: 'summary', payload: { sensorId: p[2], metric: p[3], start: w.start, end: w.start + 60000,
      count: w.count, min: w.min, max: w.max, mean: w.mean, sum: w.sum,
      stddev: w.count > 1 ? Math.sqrt(w.m2 / (w.count - 1)) : 0 } }
    st.emitted++
  }
  w = { start, count: 0, min: Infinity, max: -Infinity, sum: 0, mean: 0, m2: 0 }
  st.win.set(key, w)
}
w.count++
w.sum += v
if (v < w.min) w.min = v
if (v > w.max) w.max = v
const d = v - w.mean
w.mean += d / w.count
w.m2 += d * (v - w.mean)
return out`

const INIT = `const st = { n: 0, invalid: 0, emitted: 0, last: new Map(), win: new Map() }
context.set('st', st)
setInterval(() => node.warn('fogbench count=' + st.n + ' t=' + Date.now()), 250)`

/** Write settings.cjs and flows.json into `dir`; returns the settings file. */
export function writeNodeRedFiles(
  dir: string,
  broker: { host: string; port: number },
  filter: string,
): string {
  const flowFile = join(dir, 'flows.json')
  const flow = [
    { id: 'tab1', type: 'tab', label: 'fogbench' },
    {
      id: 'broker1',
      type: 'mqtt-broker',
      name: 'sensors',
      broker: broker.host,
      port: String(broker.port),
      clientid: '',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
    },
    {
      id: 'in1',
      type: 'mqtt in',
      z: 'tab1',
      x: 100,
      y: 100,
      topic: filter,
      qos: '0',
      datatype: 'utf8',
      broker: 'broker1',
      nl: false,
      rap: false,
      inputs: 0,
      wires: [['json1']],
    },
    {
      id: 'json1',
      type: 'json',
      z: 'tab1',
      x: 300,
      y: 100,
      property: 'payload',
      action: 'obj',
      pretty: false,
      wires: [['fn1']],
    },
    {
      id: 'fn1',
      type: 'function',
      z: 'tab1',
      x: 500,
      y: 100,
      name: 'agg',
      func: FUNC,
      outputs: 1,
      initialize: INIT,
      finalize: '',
      libs: [],
      wires: [[]],
    },
  ]
  writeFileSync(flowFile, JSON.stringify(flow))
  const settings = join(dir, 'settings.cjs')
  writeFileSync(
    settings,
    `module.exports = ${JSON.stringify({
      uiPort: 0,
      uiHost: '127.0.0.1',
      flowFile,
      userDir: dir,
      httpAdminRoot: false,
      httpNodeRoot: false,
      credentialSecret: false,
      logging: { console: { level: 'warn', metrics: false, audit: false } },
      externalModules: { autoInstall: false, palette: { allowInstall: false } },
      functionExternalModules: false,
    })}\n`,
  )
  return settings
}
