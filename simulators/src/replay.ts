import { readFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { FoglineError } from '@fogline/protocol'

/** A recorded series: values in row order, and labelled anomaly windows as [firstRow, endRow) indexes. */
export interface ReplaySeries {
  key: string
  values: Float64Array
  windows: Array<{ from: string; to: string; startRow: number; endRow: number }>
}

// NAB writes '2014-04-01 00:05:00' and '2014-04-10 07:15:00.000000' in UTC
const parseTs = (s: string) => Date.parse(`${s.trim().replace(' ', 'T').slice(0, 23)}Z`)

export function loadReplay(spec: {
  file: string
  labels?: string | undefined
  key?: string | undefined
}): ReplaySeries {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8')
    } catch (cause) {
      throw new FoglineError(
        'FOG_CONFIG_NOT_FOUND',
        `cannot read replay file: ${(cause as NodeJS.ErrnoException).code ?? cause}`,
        { file },
        { cause },
      )
    }
  }
  const lines = read(spec.file)
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
  const times = new Float64Array(lines.length)
  const values = new Float64Array(lines.length)
  lines.forEach((l, i) => {
    const [t, v] = l.split(',')
    times[i] = parseTs(t ?? '')
    values[i] = Number(v)
    if (!Number.isFinite(values[i]) || !Number.isFinite(times[i])) {
      throw new FoglineError('FOG_CONFIG_INVALID', `row ${i + 2} is not "timestamp,value"`, {
        file: spec.file,
        line: i + 2,
      })
    }
  })
  const key = spec.key ?? `${basename(dirname(spec.file))}/${basename(spec.file)}`
  const windows: ReplaySeries['windows'] = []
  if (spec.labels) {
    const all = JSON.parse(read(spec.labels)) as Record<string, Array<[string, string]>>
    const list = all[key]
    if (!list)
      throw new FoglineError('FOG_CONFIG_INVALID', `no labels for "${key}" in the labels file`, {
        file: spec.labels,
        field: 'replay.key',
      })
    for (const [from, to] of list) {
      const a = parseTs(from)
      const b = parseTs(to)
      let startRow = times.findIndex((t) => t >= a)
      if (startRow < 0) startRow = times.length
      let endRow = times.findIndex((t) => t > b)
      if (endRow < 0) endRow = times.length
      windows.push({ from, to, startRow, endRow })
    }
  }
  return { key, values, windows }
}
