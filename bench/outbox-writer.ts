/**
 * bench/outbox-writer: the outbox as the node really writes to it, against raw better-sqlite3 doing the same
 * rows in the same transactions.
 * The pattern is recorded from the real engine (@fogline/pipeline createEngine) on simulated time:
 * 1,000 sensors × 1 reading/s (phases spread over the second, a random walk as bench/lib/sensors.ts makes),
 * ALARMS alarm readings/s, the factory-line pipeline with an alarm threshold, 1-min processing-time windows,
 * the engine ticked every 100 ms (the node's tickMs) and a checkpoint every 5 s (checkpoint.interval):
 * each engine emit (one threshold event; a tick's closed windows, ~1,000 summaries at each minute) is one
 * `Writer.write` (the node's real writer, packages/node/src/writer.ts) into the real outbox with its defaults
 * (group commit every 5 ms, events urgent on the next turn, the engine snapshot as lazy state in every commit);
 * and the same with the ingest journal's positions, as the node commits events of QoS 1 alarms (no snapshot).
 * Baseline: raw better-sqlite3 (WAL, synchronous NORMAL, the same table shape), replaying the outbox's own
 * commits: one transaction per commit with the same rows (msgpack-encoded in the loop, as the outbox does)
 * and the same snapshot bytes written as state, plus a state-only transaction per checkpoint; and the same
 * without the state, to show what committing the engine snapshot with every append costs.
 * What ours does on top: seq and usage bookkeeping, counters, capacity/TTL checks, promises per append,
 * commit listeners. Not in either: the engine's work (recorded beforehand), the engine snapshot's
 * construction (taken once; both pack it per commit), reads and acks (no uplink).
 * Two replays: paced (real time, the 10 s around minute boundaries 1 and 2) and saturated (10 simulated
 * minutes back to back, yielding to the event loop every 100 simulated ms).
 * Run: node --conditions=source --import tsx bench/outbox-writer.ts   (FOGLINE_BENCH_REPEAT=1, FOGLINE_BENCH_MINUTES=10)
 * Figures from a shared 2-core machine are noisy: compare ratios within one run.
 */
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Writer } from '@fogline/node'
import { openSqliteOutbox } from '@fogline/outbox'
import { createEngine, type EngineOutput } from '@fogline/pipeline'
import { type Clock, systemClock } from '@fogline/protocol'
import { tempDir } from '@fogline/testkit'
import Database from 'better-sqlite3'
import { Packr } from 'msgpackr'
import pino from 'pino'
import { ALARM_ABOVE, alarmLinePipeline } from './lib/pipeline.js'
import { fmt, ioBytes } from './lib/proc.js'

const env = process.env
const REPEAT = Number(env['FOGLINE_BENCH_REPEAT'] ?? '1')
const MINUTES = Number(env['FOGLINE_BENCH_MINUTES'] ?? '10')
const SENSORS = 1000
const ALARMS = 20
const T0 = 1_767_225_600_000
/** paced replay: these stretches of simulated time (ms), each around a minute boundary */
const PACED: Array<[number, number]> = [
  [55_000, 65_000],
  [115_000, 125_000],
]
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })

interface Step {
  /** simulated ms since the start */
  t: number
  outs?: EngineOutput[]
  checkpoint?: true
}

/** Run the real engine over simulated time and keep what it emitted, when. */
function record(): { steps: Step[]; snapshot: unknown } {
  let now = T0
  const noTimer: Clock = {
    now: () => now,
    setTimeout: () => 0,
    clearTimeout() {},
    setInterval: () => 0,
    clearInterval() {},
  }
  const steps: Step[] = []
  const engine = createEngine([alarmLinePipeline('line', 'p', '1m')], {
    clock: noTimer,
    emit: (outs) => steps.push({ t: now - T0, outs }),
    deadLetter() {},
  })
  let seed = 42
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const values = Array.from({ length: SENSORS }, () => 20 + rnd() * 10)
  const topics = values.map((_, i) => `p/sensors/s${String(i).padStart(4, '0')}/temperature`)
  const high = new Array<boolean>(200).fill(false)
  let alarm = 0
  for (let ms = 0; ms < MINUTES * 60_000; ms++) {
    now = T0 + ms
    const i = ms % 1000
    values[i]! += (rnd() - 0.5) * 0.2
    engine.ingest(topics[i]!, Buffer.from(`{"value":${Math.round(values[i]! * 1000) / 1000},"ts":${now}}`))
    if (ms % (1000 / ALARMS) === 0) {
      const k = alarm++ % high.length
      high[k] = !high[k]
      const v = high[k] ? ALARM_ABOVE + 20 : 25
      engine.ingest(
        `p/sensors/a${String(k).padStart(3, '0')}/temperature`,
        Buffer.from(`{"value":${v},"ts":${now}}`),
      )
    }
    if (ms % 100 === 0) engine.tick(now)
    if (ms % 5000 === 0 && ms > 0) steps.push({ t: ms, checkpoint: true })
  }
  return { steps, snapshot: engine.snapshot() }
}

/** Call `fn` for each step: paced at the steps' own times (per stretch), or back to back yielding every 100 ms. */
async function replay(steps: Step[], paced: boolean, fn: (s: Step) => void): Promise<void> {
  const turn = () => new Promise((r) => setImmediate(r))
  if (!paced) {
    let mark = 0
    for (const s of steps) {
      if (s.t >= mark + 100) {
        mark = s.t - (s.t % 100)
        await turn()
      }
      fn(s)
    }
    return
  }
  for (const [from, to] of PACED) {
    const t0 = performance.now()
    for (const s of steps)
      if (s.t >= from && s.t < to) {
        const wait = s.t - from - (performance.now() - t0)
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        fn(s)
      }
    const rest = to - from - (performance.now() - t0)
    if (rest > 0) await new Promise((r) => setTimeout(r, rest))
  }
}

interface Run {
  records: number
  commits: number
  cpuUs: number
  wallMs: number
  /**
   * bytes this process asked to write (/proc/self/io wchar) during the replay, when measured. Not the snapshot's
   * cost: it is taken once, and SQLite does not rewrite the pages of a value overwritten with equal bytes.
   */
  wrote?: number
}
interface Commit {
  t: number
  records: number
}

/**
 * `journal`: as the node with the ingest journal and the alarms at QoS 1 (journaled): an event commits the
 * journal's events position instead of the snapshot; summaries and checkpoints still carry it.
 */
async function ours(path: string, steps: Step[], snapshot: unknown, paced: boolean, journal = false) {
  const outbox = await openSqliteOutbox({ path })
  const log = pino({ level: 'silent' })
  let pos = 0
  const positions = journal && {
    rawState: () => ({ 'ingest.journal.rawPos': pos }),
    events: { replayable: () => true, state: () => ({ 'ingest.journal.eventsPos': ++pos }) },
  }
  const writer = new Writer({ outbox, snapshot: () => snapshot, ...positions, clock: systemClock, log })
  const commits: Commit[] = []
  const t0 = performance.now()
  outbox.onCommit(({ records }) => commits.push({ t: performance.now() - t0, records }))
  const c0 = process.cpuUsage()
  const w0 = ioBytes(process.pid).wchar
  let records = 0
  await replay(steps, paced, (s) => {
    if (s.outs) {
      records += s.outs.length
      writer.write(s.outs)
    } else writer.checkpoint().catch(() => {})
  })
  await writer.checkpoint()
  const c = process.cpuUsage(c0)
  const run: Run = {
    records,
    commits: outbox.stats().commits,
    cpuUs: c.user + c.system,
    wallMs: performance.now() - t0,
    wrote: ioBytes(process.pid).wchar - w0,
  }
  await writer.close()
  await outbox.close()
  return { run, commits }
}

/** raw better-sqlite3: the outbox's commits, one transaction each, same rows and state bytes; checkpoints */
async function raw(
  path: string,
  steps: Step[],
  snapshot: unknown,
  paced: boolean,
  commits: Commit[],
  state = true,
) {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE records (stream TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, priority INTEGER NOT NULL,
    bytes INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (stream, seq)) WITHOUT ROWID;
    CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL)`)
  const ins = db.prepare('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)')
  const put = db.prepare('INSERT OR REPLACE INTO state VALUES (?, ?)')
  const rows = steps.flatMap((s) =>
    paced && !PACED.some(([a, b]) => s.t >= a && s.t < b) ? [] : (s.outs ?? []),
  )
  const seq: Record<string, number> = {}
  let next = 0
  const txn = db.transaction((n: number) => {
    for (let k = 0; k < n && next < rows.length; k++, next++) {
      const o = rows[next]!
      const body = packr.pack(o.body)
      ins.run(o.stream, (seq[o.stream] = (seq[o.stream] ?? 0) + 1), o.ts, o.priority, body.length + 24, body)
    }
    if (state) put.run('pipeline.checkpoint', packr.pack(snapshot))
  })
  // the outbox's commits as steps in its own time order (paced: at the same offsets), then the checkpoints
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  let i = 0
  if (paced)
    await replay(steps, true, (s) => {
      // the commits ours had made by this moment go now, in the same sizes
      const due = performance.now() - t0
      while (i < commits.length && commits[i]!.t <= due) txn(commits[i++]!.records)
      if (s.checkpoint) txn(0)
    })
  else for (const s of steps) if (s.checkpoint) txn(0)
  while (i < commits.length) txn(commits[i++]!.records)
  const c = process.cpuUsage(c0)
  const run: Run = {
    records: next,
    commits: commits.length,
    cpuUs: c.user + c.system,
    wallMs: performance.now() - t0,
  }
  db.close()
  return run
}

function line(what: string, r: Run): string {
  const wrote = r.wrote === undefined ? '' : `, wrote ${fmt(r.wrote / 1024)} KiB`
  return `    ${what.padEnd(36)} ${fmt(r.records)} records in ${fmt(r.commits)} commits (${(r.records / Math.max(1, r.commits)).toFixed(1)}/commit), CPU ${(r.cpuUs / r.records).toFixed(2)} µs/record, ${fmt((r.records * 1000) / r.wallMs)} records/s wall${wrote}`
}

async function main(): Promise<void> {
  console.log(
    `bench/outbox-writer — the node's writer pattern (${SENSORS} sensors x 1/s, ${ALARMS} alarms/s, 1-min windows, real engine, real Writer + outbox) vs raw better-sqlite3 with the same commits. Shared 2-core machine: figures are noisy, compare ratios within one run.`,
  )
  const t = performance.now()
  const { steps, snapshot } = record()
  const emits = steps.filter((s) => s.outs).length
  console.log(
    `  recorded ${MINUTES} simulated minutes in ${((performance.now() - t) / 1000).toFixed(1)} s: ${fmt(emits)} engine emits, ${fmt(steps.reduce((n, s) => n + (s.outs?.length ?? 0), 0))} records, snapshot ${fmt(packr.pack(snapshot).length)} B packed`,
  )
  using dir = tempDir('fogline-bench-writer-')
  for (let r = 0; r < REPEAT; r++)
    for (const paced of [true, false]) {
      const load = loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')
      console.log(
        `\n  run ${r + 1}, ${paced ? 'paced (real time, 2 x 10 s around minute boundaries)' : `saturated (${MINUTES} simulated minutes back to back)`} (${new Date().toISOString()}, load average ${load})`,
      )
      const o = await ours(join(dir.path, `o${r}${paced}.db`), steps, snapshot, paced)
      const b = await raw(join(dir.path, `r${r}${paced}.db`), steps, snapshot, paced, o.commits)
      console.log(line('Writer + outbox', o.run))
      const j = await ours(join(dir.path, `j${r}${paced}.db`), steps, snapshot, paced, true)
      console.log(line('Writer + outbox, journal, QoS 1 alarms', j.run))
      const n = await raw(join(dir.path, `n${r}${paced}.db`), steps, snapshot, paced, o.commits, false)
      console.log(line('raw better-sqlite3, same commits', b))
      console.log(line('raw, same commits, no state', n))
      const per = (x: Run) => x.cpuUs / x.records
      console.log(
        `    ours / raw: CPU per record ${(per(o.run) / per(b)).toFixed(2)}x; the snapshot in every commit: raw with / without state ${(per(b) / per(n)).toFixed(2)}x; events with the journal position instead: ours CPU ${(per(j.run) / per(o.run)).toFixed(2)}x, bytes ${((j.run.wrote ?? 0) / (o.run.wrote ?? 1)).toFixed(3)}x`,
      )
    }
}

await main()
process.exit(0)
