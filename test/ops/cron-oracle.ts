/**
 * Child of cron-local.test.ts: compares compileCron's local-time next match (no time zone) with node-cron's
 * own matcher, in this process's TZ (set at spawn: Intl caches the default zone when its first formatter is
 * made, so one process can only be the oracle for one zone). Prints `checked N repeated-hour R mismatches [...]`.
 */
import { compileCron } from '@fogline/node'
import cron from 'node-cron'

const EXPRS = process.argv.slice(2)
const limit = 2 * 366 * 86_400_000
let seed = 7
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
const start = Date.parse('2026-01-01T00:00:00Z')
const bad: string[] = []
let n = 0
let repeated = 0
for (const expr of EXPRS) {
  const c = compileCron(expr)
  const task = cron.createTask(expr, () => {})
  const m = (task as unknown as { timeMatcher: { getNextMatch(d: Date): Date } }).timeMatcher
  // around the 2026 DST changes of Europe, the US and Lord Howe, then whole and odd seconds over two years
  const edges = ['03-28T12:00', '03-29T00:30', '10-24T12:00', '03-07T12:00', '03-08T06:30', '10-31T12:00']
  const times = edges.map((e) => Date.parse(`2026-${e}:00Z`))
  for (let i = 0; i < 60; i++)
    times.push(start + Math.floor(rnd() * 2 * 365 * 86_400) * 1000 + (i % 3 === 0 ? 0 : 417))
  for (const t of times) {
    const d = m.getNextMatch(new Date(t)).getTime()
    const want = d - t <= limit ? d : null
    const got = c.next(t)
    n++
    // the hour a DST change repeats: the same wall-clock time twice; ours takes the first, node-cron the second
    const wall = (x: number) => new Date(x).toString().slice(0, 24)
    if (got !== null && want !== null && got < want && wall(got) === wall(want)) repeated++
    else if (got !== want) bad.push(`${expr} after ${new Date(t).toISOString()}: ${got} vs node-cron ${want}`)
  }
  c.close()
  void task.destroy()
}
console.log(`checked ${n} repeated-hour ${repeated} mismatches ${JSON.stringify(bad)}`)
