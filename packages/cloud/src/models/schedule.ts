import type { Clock } from '@fogline/protocol'
import { FoglineError } from '@fogline/protocol'
import cron from 'node-cron'

/** the schedule is checked once a minute on the cloud's clock (cron's own resolution) */
const CHECK_MS = 60_000
/** after a long stop, at most one day of missed minutes is looked at: training catches up once anyway */
const MAX_SCAN_MS = 86_400_000

/**
 * Run `job` at each match of a five-field cron expression on the injected clock: every minute the minutes
 * since the last check are matched with node-cron's own matcher (its task is never started, so no timer of
 * node-cron's runs), and one run covers every slot missed meanwhile. Runs never overlap.
 * @example const stop = cronOnClock('17 3 * * *', clock, () => trainer.train(t))
 */
export function cronOnClock(expr: string, clock: Clock, job: () => Promise<unknown>): () => void {
  if (!cron.validate(expr))
    throw new FoglineError('FOG_CONFIG_INVALID', `"${expr}" is not a five-field cron expression`, {
      field: 'training.schedule',
    })
  const task = cron.createTask(expr, () => {})
  let last = Math.floor(clock.now() / CHECK_MS) * CHECK_MS
  let running = false
  const check = async () => {
    const now = Math.floor(clock.now() / CHECK_MS) * CHECK_MS
    let due = false
    for (let t = Math.max(last + CHECK_MS, now - MAX_SCAN_MS); t <= now && !due; t += CHECK_MS)
      due = task.match(new Date(t))
    last = Math.max(last, now)
    if (!due || running) return
    running = true
    try {
      await job()
    } finally {
      running = false
    }
  }
  const timer = clock.setInterval(() => void check(), CHECK_MS)
  return () => {
    clock.clearInterval(timer)
    void task.destroy()
  }
}
