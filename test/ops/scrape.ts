/** One Prometheus text exposition as a map: `name{labels}` → value (HELP/TYPE lines skipped). */
export async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`)
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  const out = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    // a metric with no series yet (a gauge nobody set) still has its TYPE line
    const type = /^# TYPE (\S+) /.exec(line)
    if (type) out.set(`# ${type[1]}`, 0)
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

/** The value of one series, 0 when absent (a counter not yet incremented has no series). */
export const val = (m: Map<string, number>, series: string) => m.get(series) ?? 0

/** Metric names the node declares (its TYPE lines), whether or not they have a series yet. */
export function names(m: Map<string, number>): Set<string> {
  return new Set([...m.keys()].filter((k) => k.startsWith('# ')).map((k) => k.slice(2)))
}
