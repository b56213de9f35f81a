import type { Clock } from '@fogline/protocol'
import { type CompiledCron, compileCron, cronTrigger } from './windows.js'

/** A housekeeping job. `run` must be idempotent: a missed slot is caught up once, a repeated one is harmless. */
export interface JobSpec {
  name: string
  /** five-field cron expression */
  cron: string
  timezone?: string | undefined
  run(): unknown | Promise<unknown>
}

/** A job's last run, result and next run, for stats and metrics. */
export interface JobStatus {
  name: string
  cron: string
  lastRunAt: number | null
  /** the cron slot the last run covered */
  lastSlot: number | null
  ok: boolean | null
  result: unknown
  error: string | null
  nextRunAt: number | null
  runs: number
  /** runs that covered a slot whose trigger never came (sleep, DST, a stalled loop) */
  caughtUp: number
}

export interface SchedulerOptions {
  clock: Clock
  jobs: readonly JobSpec[]
  /** where the last covered slot survives restarts (the outbox's state table) */
  state?: { get(key: string): unknown; put(key: string, v: unknown): void | Promise<void> }
  /** a real-time trigger checks at each slot; false in tests (the clock interval drives them) */
  cronTriggers?: boolean
  /** safety net: checked this often on the injected clock whatever the trigger does; default 60 s */
  checkEvery?: number
  onRun?(s: JobStatus): void
}

interface Entry {
  spec: JobSpec
  cron: CompiledCron
  status: JobStatus
  running: boolean
}

// run a job once for every slot after the last covered one and not after now (none: nothing to do)
async function runOne(e: Entry, now: number, o: SchedulerOptions): Promise<void> {
  let slot = e.cron.next(e.status.lastSlot!)
  if (slot === null || slot > now) return
  // several missed slots are covered by one run: jobs are idempotent
  let missed = 0
  for (let n = e.cron.next(slot); n !== null && n <= now; n = e.cron.next(slot)) {
    slot = n
    missed++
  }
  e.running = true
  const st = e.status
  st.lastSlot = slot
  st.lastRunAt = now
  // a check well after the slot means its trigger never came
  if (missed > 0 || now - slot >= 60_000) st.caughtUp++
  try {
    st.result = await e.spec.run()
    st.ok = true
    st.error = null
  } catch (err) {
    st.ok = false
    st.error = err instanceof Error ? err.message : String(err)
  } finally {
    e.running = false
    st.runs++
    st.nextRunAt = e.cron.next(Math.max(slot, o.clock.now()))
    await o.state?.put(`job.${e.spec.name}`, slot)
    o.onRun?.({ ...st })
  }
}

/**
 * Runs jobs on cron slots. Correctness never depends on a trigger happening: each check asks "is there a
 * slot after the one last covered and not after now?" (a pure function of the clock), runs the job once
 * for all such slots, and records the latest. node-cron only makes the check happen on time.
 * Lifecycle: create → check()* → close.
 * @example const s = createScheduler({ clock, jobs: [{ name: 'vacuum', cron: '17 3 * * *', run: vacuum }] })
 */
export function createScheduler(o: SchedulerOptions) {
  const entries: Entry[] = o.jobs.map((spec) => {
    const c: CompiledCron = compileCron(spec.cron, spec.timezone)
    const saved = o.state?.get(`job.${spec.name}`) as number | undefined
    const status: JobStatus = {
      name: spec.name,
      cron: spec.cron,
      lastRunAt: null,
      // first start ever: the next slot is the first one (no run for slots before the node existed)
      lastSlot: typeof saved === 'number' ? saved : o.clock.now(),
      ok: null,
      result: null,
      error: null,
      nextRunAt: null,
      runs: 0,
      caughtUp: 0,
    }
    status.nextRunAt = c.next(status.lastSlot!)
    return { spec, cron: c, status, running: false }
  })
  const triggers =
    o.cronTriggers === false
      ? []
      : // a real-time timer at each slot (check() does not overlap a running job): it only triggers check(),
        // which reads the injected clock
        entries.map((e) => cronTrigger(e.cron, () => void check()))
  const interval = o.clock.setInterval(() => void check(), o.checkEvery ?? 60_000)
  ;(interval as { unref?: () => void } | null)?.unref?.()

  /** run every job that has a slot due; resolves when they finished */
  async function check(): Promise<void> {
    const now = o.clock.now()
    await Promise.all(entries.filter((e) => !e.running).map((e) => runOne(e, now, o)))
  }

  return {
    check,
    status: (): JobStatus[] => entries.map((e) => ({ ...e.status })),
    close(): void {
      o.clock.clearInterval(interval)
      for (const t of triggers) t.stop()
      for (const e of entries) e.cron.close()
    },
  }
}

export type Scheduler = ReturnType<typeof createScheduler>
