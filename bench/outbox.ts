/**
 * bench/outbox: the outbox and uplink against their baselines, in one run.
 *   1. append rate: openSqliteOutbox().append vs raw better-sqlite3 batched inserts of the same rows
 *   2. drain rate into Mosquitto 127.0.0.1:1883 (outbox → uplink → broker → acking store → ack → delete)
 *      vs a bare mqtt.js QoS 1 publish loop of the same batches
 *   3. bytes per summary on the wire: JSON, msgpack, msgpack+deflate, deflated JSON; batches of 1/50/500
 *   4. a one-hour backlog drained while live records keep flowing (multiple of real time)
 * Run: node --conditions=source --import tsx bench/outbox.ts   (FOGLINE_BENCH_SCALE=2 for bigger runs)
 * Figures from a shared 2-core machine are noisy: compare the ratios within one run, not across runs.
 */
import { deflateRawSync } from 'node:zlib'
import { openSqliteOutbox } from '@fogline/outbox'
import { type Batch, encodeBatch, UplinkConfig } from '@fogline/protocol'
import {
  MOSQUITTO_URL,
  mosquittoAvailable,
  runTsChild,
  startAckingStore,
  tempDir,
  waitFor,
} from '@fogline/testkit'
import { createUplink, encodeBatchSpliced } from '@fogline/uplink'
import Database from 'better-sqlite3'
import { connect } from 'mqtt'
import { Packr } from 'msgpackr'

const env = process.env
const SCALE = Number(env['FOGLINE_BENCH_SCALE'] ?? '1')
const MOSQUITTO = MOSQUITTO_URL
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })
const rows: Array<[string, string]> = []
const out = (k: string, v: string) => {
  rows.push([k, v])
  console.log(`${k.padEnd(58)} ${v}`)
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

function summary(i: number): Record<string, unknown> {
  const base = 20 + 5 * Math.sin(i / 50)
  const count = 60
  const mean = base + Math.random()
  return {
    pipelineId: 'line-1',
    sensorId: `press-${(i % 40).toString().padStart(2, '0')}`,
    metric: 'temperature',
    start: 1_767_225_600_000 + Math.floor(i / 40) * 60_000,
    end: 1_767_225_600_000 + (Math.floor(i / 40) + 1) * 60_000,
    count,
    min: Math.round((mean - Math.random() * 2) * 100) / 100,
    max: Math.round((mean + Math.random() * 2) * 100) / 100,
    mean,
    sum: mean * count,
  }
}

/** The baselines' database: a plain table like the outbox's, in WAL mode, and its INSERT. */
function baselineDb(file: string) {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE records (stream TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, priority INTEGER NOT NULL,
    bytes INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (stream, seq)) WITHOUT ROWID`)
  return [db, db.prepare('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)')] as const
}

async function appendBench(): Promise<void> {
  const n = 200_000 * SCALE
  const batch = 1000
  const bodies = Array.from({ length: n }, (_, i) => summary(i))
  using dir = tempDir()
  // baseline: the same table, the same rows (bodies msgpack-encoded beforehand), 1000 rows per transaction
  const [db, ins] = baselineDb(dir.file('raw.db'))
  const encoded = bodies.map((b) => packr.pack(b))
  const many = db.transaction((from: number) => {
    for (let i = from; i < from + batch && i < n; i++)
      ins.run('summary', i + 1, i, 1, encoded[i]!.length, encoded[i]!)
  })
  let t = performance.now()
  for (let i = 0; i < n; i += batch) many(i)
  const rawRate = n / ((performance.now() - t) / 1000)
  db.close()
  // same, but the encoding counted too (what the outbox has to do)
  const [db2, ins2] = baselineDb(dir.file('raw2.db'))
  const many2 = db2.transaction((from: number) => {
    for (let i = from; i < from + batch && i < n; i++) {
      const b = packr.pack(bodies[i])
      ins2.run('summary', i + 1, i, 1, b.length, b)
    }
  })
  t = performance.now()
  for (let i = 0; i < n; i += batch) many2(i)
  const rawEncRate = n / ((performance.now() - t) / 1000)
  db2.close()

  const ob = await openSqliteOutbox({
    path: dir.file('outbox.db'),
    config: { capacityRecords: n * 2, capacityBytes: '1GiB' },
  })
  t = performance.now()
  const ps = []
  for (let i = 0; i < n; i += batch)
    ps.push(
      ob.append(
        bodies.slice(i, i + batch).map((body, k) => ({ stream: 'summary' as const, ts: i + k, body })),
      ),
    )
  await Promise.all(ps)
  const obRate = n / ((performance.now() - t) / 1000)
  const commits = ob.stats().commits
  await ob.close()
  out('append: raw better-sqlite3, pre-encoded rows (rows/s)', fmt(rawRate))
  out('append: raw better-sqlite3, encoding included (rows/s)', fmt(rawEncRate))
  out(`append: outbox.append x${n / batch} calls, ${commits} commits (rows/s)`, fmt(obRate))
  out('append ratio outbox / raw pre-encoded (target >= 0.5)', (obRate / rawRate).toFixed(2))
  out('append ratio outbox / raw with encoding', (obRate / rawEncRate).toFixed(2))
}

function wireBench(): void {
  for (const size of [1, 50, 500]) {
    const records = Array.from({ length: size }, (_, i) => ({
      seq: i + 1,
      ts: 1_767_225_600_000 + i * 1500,
      body: summary(i),
    }))
    const batch: Batch = {
      nodeId: 'node-a',
      stream: 'summary',
      batchId: 'a1b2c3d4-12',
      sentAt: Date.now(),
      records,
    }
    const json = Buffer.from(JSON.stringify(batch))
    const mp = encodeBatch(batch, { deflate: false })
    const mpz = encodeBatch(batch, { deflate: true })
    const jsonz = deflateRawSync(json)
    // what the uplink sends: stored bodies spliced in, deflate level 1 when it saves >= 10 %
    const enc = records.map((r) => ({ seq: r.seq, ts: r.ts, body: packr.pack(r.body), bytes: 0 }))
    const up = encodeBatchSpliced(batch, enc, { deflate: 'auto', minDeflateBytes: 256, level: 1 })
    const per = (b: Buffer) => (b.length / size).toFixed(1)
    out(
      `wire B/summary, batch ${String(size).padStart(3)}: json|msgpack|mp+deflate6|json+deflate6|uplink(auto,lvl1)`,
      `${per(json)} | ${per(mp)} | ${per(mpz)} | ${per(jsonz)} | ${per(up)}`,
    )
  }
}

/** The cloud side runs in its own process, as it would on its own machine, so it does not take the uplink's CPU. */
async function childAcker(url: string, path: string, version: 4 | 5) {
  const c = runTsChild(new URL(import.meta.url).pathname, ['--acker', url, path, String(version)])
  await c.waitForLine(/^acker ready/)
  return {
    stop: () => c.kill9(),
    count(nodeId: string): number {
      const db = new Database(path, { readonly: true })
      try {
        return db.prepare('SELECT count(*) FROM rec WHERE node = ?').pluck().get(nodeId) as number
      } finally {
        db.close()
      }
    },
    seqs(nodeId: string): number[] {
      const db = new Database(path, { readonly: true })
      try {
        return db.prepare('SELECT seq FROM rec WHERE node = ? ORDER BY seq').pluck().all(nodeId) as number[]
      } finally {
        db.close()
      }
    },
  }
}

async function drainBench(): Promise<void> {
  const n = 60_000 * SCALE
  const rounds = 3
  const batchSize = 500
  const window = 32
  using dir = tempDir()
  const runId = Math.random().toString(36).slice(2, 8)
  const acker = await childAcker(MOSQUITTO, dir.file('cloud.db'), 5)
  const bodies = Array.from({ length: n }, (_, i) => summary(i))
  /** let the acker finish what it was sent, so one run does not pay for the previous one */
  const quiet = (node: string) =>
    waitFor(() => acker.count(node) >= n, `acker caught up on ${node}`, 10_000).catch(() => {})

  // baseline: a bare mqtt.js QoS 1 loop over the same records: encode each batch, publish, keep `window`
  // batches awaiting PUBACK — transport and encoding only, no store, no application ack. Run with the wire
  // format the uplink sends (msgpack + deflate level 1) and with the protocol codec's default (level 6).
  const bareLoop = async (
    encode: (b: Batch) => Buffer,
    node: string,
  ): Promise<{ rate: number; cpu: number }> => {
    const bare = connect(MOSQUITTO, { protocolVersion: 5, clientId: node })
    await new Promise<void>((r) => bare.once('connect', () => r()))
    ;(bare.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    await new Promise<void>((resolve) => {
      let next = 0
      let done = 0
      const total = Math.ceil(n / batchSize)
      const sendOne = () => {
        const i = next++ * batchSize
        const records = bodies.slice(i, i + batchSize).map((body, k) => ({ seq: i + k + 1, ts: i + k, body }))
        const p = encode({ nodeId: node, stream: 'raw', batchId: `b${i}`, sentAt: Date.now(), records })
        bare.publish(`fogline/v1/${node}/up/raw`, p, { qos: 1 }, () => {
          if (++done === total) resolve()
          else if (next < total) sendOne()
        })
      }
      for (let k = 0; k < window && next < total; k++) sendOne()
    })
    const rate = n / ((performance.now() - t0) / 1000)
    const cu = process.cpuUsage(c0)
    bare.end(true)
    await quiet(node)
    return { rate, cpu: (cu.user + cu.system) / n }
  }
  const level1 = (b: Batch) =>
    Buffer.concat([Buffer.from([1, 1]), deflateRawSync(packr.pack(b), { level: 1 })])

  const uplinkRun = async (
    node: string,
  ): Promise<{ rate: number; cpu: number; resent: number; stored: number }> => {
    const ob = await openSqliteOutbox({
      path: dir.file(`${node}.db`),
      config: { capacityRecords: n * 2, capacityBytes: '1GiB' },
    })
    for (let i = 0; i < n; i += 10_000)
      await ob.append(
        bodies.slice(i, i + 10_000).map((body, k) => ({ stream: 'summary' as const, ts: i + k, body })),
      )
    const up = createUplink({
      nodeId: node,
      group: 'bench',
      outbox: ob,
      config: UplinkConfig.parse({
        urls: [MOSQUITTO],
        batchMaxRecords: batchSize,
        maxInFlight: window,
        ackTimeout: '2s',
      }),
    })
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    up.start()
    await waitFor(() => ob.stats().records === 0, 'outbox drained into Mosquitto', 120_000, 5)
    const rate = n / ((performance.now() - t0) / 1000)
    const cu = process.cpuUsage(c0)
    const resent = up.stats().resent
    await up.stop()
    await ob.close()
    return { rate, cpu: (cu.user + cu.system) / n, resent, stored: acker.count(node) }
  }

  // alternate the three, best of `rounds` each: the machine is shared and single runs swing by 2x
  let bare1 = 0
  let bare6 = 0
  let drain = 0
  let resent = 0
  let stored = 0
  // CPU of this process per record (µs): what the sender itself costs, whatever the broker and cloud do
  let cpuBare = Number.POSITIVE_INFINITY
  let cpuUp = Number.POSITIVE_INFINITY
  for (let r = 0; r < rounds; r++) {
    const b1 = await bareLoop(level1, `bench-${runId}-b1-${r}`)
    bare1 = Math.max(bare1, b1.rate)
    cpuBare = Math.min(cpuBare, b1.cpu)
    bare6 = Math.max(bare6, (await bareLoop((b) => encodeBatch(b), `bench-${runId}-b6-${r}`)).rate)
    const u = await uplinkRun(`bench-${runId}-up-${r}`)
    drain = Math.max(drain, u.rate)
    cpuUp = Math.min(cpuUp, u.cpu)
    resent += u.resent
    stored += u.stored
  }
  await acker.stop()
  out(`drain: bare mqtt.js QoS 1 loop, msgpack+deflate 1 (best of ${rounds}, rec/s)`, fmt(bare1))
  out(`drain: bare loop with encodeBatch, deflate 6 (best of ${rounds}, rec/s)`, fmt(bare6))
  out(`drain: outbox → uplink → Mosquitto → commit → ack (best of ${rounds})`, fmt(drain))
  out('drain ratio uplink / bare, same wire format (target >= 0.7)', (drain / bare1).toFixed(2))
  out('drain ratio uplink / bare with encodeBatch', (drain / bare6).toFixed(2))
  out(
    'drain: sender CPU µs/record, bare (same format) | uplink',
    `${cpuBare.toFixed(1)} | ${cpuUp.toFixed(1)}`,
  )
  out('drain: CPU ratio bare / uplink (1.0 = no overhead)', (cpuBare / cpuUp).toFixed(2))
  out('drain: records in the store / sent, resent', `${fmt(stored)} / ${fmt(n * rounds)}, ${fmt(resent)}`)
}

async function backlogBench(url: string): Promise<void> {
  // a busy node: 100 sensors with 1-s summaries = 360,000 summaries in one hour offline
  const perSec = 100
  const hour = 3600 * perSec * Math.min(SCALE, 1)
  using dir = tempDir()
  const nodeId = `bench-bl-${Math.random().toString(36).slice(2, 8)}`
  const store = await childAcker(url, dir.file('cloud.db'), 5)
  const ob = await openSqliteOutbox({
    path: dir.file('outbox.db'),
    config: { capacityRecords: hour * 2, capacityBytes: '1GiB' },
  })
  const t0 = Date.now() - 3_600_000
  for (let i = 0; i < hour; i += 20_000)
    await ob.append(
      Array.from({ length: Math.min(20_000, hour - i) }, (_, k) => ({
        stream: 'summary' as const,
        ts: t0 + Math.floor((i + k) / perSec) * 1000,
        body: summary(i + k),
      })),
    )
  const up = createUplink({
    nodeId,
    group: 'bench',
    outbox: ob,
    config: UplinkConfig.parse({ urls: [url], batchMaxRecords: 500, maxInFlight: 32, ackTimeout: '2s' }),
  })
  // live records keep flowing at the same rate while the backlog drains
  let live = 0
  const liveSeqs: Array<{ seq: number; at: number }> = []
  const liveTimer = setInterval(() => {
    const items = Array.from({ length: perSec / 10 }, () => ({
      stream: 'summary' as const,
      ts: Date.now(),
      body: summary(live++),
    }))
    void ob.append(items).then((r) => {
      liveSeqs.push({ seq: r[0]!.seq, at: Date.now() })
    })
  }, 100)
  const t = performance.now()
  up.start()
  await waitFor(
    () => ob.stats().records === 0 || (ob.stats().records < perSec && performance.now() - t > 1000),
    'backlog drained',
    170_000,
    20,
  )
  const secs = (performance.now() - t) / 1000
  clearInterval(liveTimer)
  await up.stop()
  await ob.close()
  const stored = new Set(store.seqs(nodeId))
  const lat = liveSeqs.filter((l) => stored.has(l.seq)).length
  await store.stop()
  out(`backlog: one hour (${fmt(hour)} summaries) drained in (s)`, secs.toFixed(1))
  out('backlog: multiple of real time (target >= 20x)', `${(3600 / secs).toFixed(0)}x`)
  out('backlog: live records appended meanwhile / delivered', `${fmt(live)} / ${fmt(lat * (perSec / 10))}`)
}

if (process.argv[2] === '--acker') {
  const [url, path, v] = process.argv.slice(3)
  await startAckingStore(url!, path!, { protocolVersion: v === '5' ? 5 : 4, keepBodies: false })
  console.log('acker ready')
  await new Promise(() => {})
}

console.log('bench/outbox — shared 2-core machine: figures are noisy, compare ratios within one run\n')
await appendBench()
wireBench()
if (await mosquittoAvailable()) {
  await drainBench()
  await backlogBench(MOSQUITTO)
} else {
  console.log('Mosquitto is not running on 127.0.0.1:1883: drain and backlog benches skipped')
}
process.exit(0)
