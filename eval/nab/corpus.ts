/**
 * Loads the NAB development subset from disk: every `data/<group>/<file>.csv` (timestamp,value), its label
 * windows (`labels/combined_windows.json`) as row indexes, and the scoring profiles (`profiles.json`).
 * The folder is `../shared/data/nab-dev` from the repo root unless FOGLINE_NAB_DIR or `--data DIR` says
 * otherwise; a missing folder is a FoglineError naming the path and how to point at it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FoglineError } from '@fogline/protocol'
import type { CostMatrix, WindowRows } from './scorer.js'

/** One series: its relative path (`group/file.csv`), timestamps (epoch ms, UTC), values and windows. */
export interface NabFile {
  name: string
  ts: number[]
  values: number[]
  windows: WindowRows[]
}

export interface NabCorpus {
  dir: string
  files: NabFile[]
  profiles: Record<string, CostMatrix>
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** The data folder: `--data DIR`, else FOGLINE_NAB_DIR, else ../shared/data/nab-dev beside the repo. */
export function nabDir(argv: string[] = process.argv): string {
  const i = argv.indexOf('--data')
  if (i >= 0 && argv[i + 1]) return resolve(argv[i + 1]!)
  return resolve(process.env['FOGLINE_NAB_DIR'] ?? join(REPO, '../shared/data/nab-dev'))
}

/** NAB timestamps are UTC without a zone: `2014-04-10 07:15:00` or with `.000000`. */
export function parseTs(s: string): number {
  const t = Date.parse(`${s.trim().slice(0, 19).replace(' ', 'T')}Z`)
  if (Number.isNaN(t))
    throw new FoglineError('FOG_CONFIG_INVALID', `bad timestamp "${s}"`, { field: 'timestamp' })
  return t
}

function readCsv(path: string): { ts: number[]; values: number[] } {
  const ts: number[] = []
  const values: number[] = []
  const lines = readFileSync(path, 'utf8').split('\n')
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    const comma = line.indexOf(',')
    ts.push(parseTs(line.slice(0, comma)))
    values.push(Number(line.slice(comma + 1)))
  }
  return { ts, values }
}

/**
 * Load every series with its windows. Throws FOG_CONFIG_INVALID when the folder or a label is missing.
 * @example const corpus = loadCorpus(nabDir())
 */
export function loadCorpus(dir: string): NabCorpus {
  if (!existsSync(join(dir, 'labels/combined_windows.json')))
    throw new FoglineError(
      'FOG_CONFIG_INVALID',
      `the NAB data is not at ${dir}: set FOGLINE_NAB_DIR or pass --data DIR (a folder with data/, labels/ and profiles.json)`,
      { file: dir },
    )
  const labels = JSON.parse(readFileSync(join(dir, 'labels/combined_windows.json'), 'utf8')) as Record<
    string,
    [string, string][]
  >
  const raw = JSON.parse(readFileSync(join(dir, 'profiles.json'), 'utf8')) as Record<
    string,
    { CostMatrix: CostMatrix }
  >
  const profiles = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.CostMatrix]))
  const files: NabFile[] = []
  for (const group of readdirSync(join(dir, 'data')).sort()) {
    for (const f of readdirSync(join(dir, 'data', group)).sort()) {
      if (!f.endsWith('.csv')) continue
      const name = `${group}/${f}`
      const { ts, values } = readCsv(join(dir, 'data', group, f))
      const wins = labels[name]
      if (wins === undefined)
        throw new FoglineError('FOG_CONFIG_INVALID', `no label windows for ${name}`, { file: name })
      const windows = wins.map(([a, b]) => {
        const start = ts.indexOf(parseTs(a))
        const end = ts.indexOf(parseTs(b))
        if (start < 0 || end < start)
          throw new FoglineError('FOG_CONFIG_INVALID', `window ${a} … ${b} is not in ${name}`, { file: name })
        return { start, end }
      })
      files.push({ name, ts, values, windows })
    }
  }
  return { dir, files, profiles }
}
