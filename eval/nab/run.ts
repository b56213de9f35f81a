/**
 * `npm run eval:nab`: every series of the NAB development subset through the node's real anomaly stage, for
 * each detector setup (untrained and trained), scored by the NAB rules on the three profiles: per-file raw
 * scores at the corpus threshold (standard profile) and normalised totals.
 * Options: --data DIR (or FOGLINE_NAB_DIR), --only NAME (setups whose name starts with NAME).
 */
import { FoglineError, formatErrorData, toErrorData } from '@fogline/protocol'
import { loadCorpus, type NabCorpus, nabDir } from './corpus.js'
import { detect } from './detect.js'
import { bestThreshold, countedWindows, normalise, scoreAt, sweepRows } from './scorer.js'
import { SETUPS, type Setup } from './setups.js'

interface Result {
  label: string
  perFile: number[]
  totals: Array<{ profile: string; normalised: number; threshold: number; raw: number; events: number }>
  events: number
  usPerReading: number
}

function evaluate(corpus: NabCorpus, setup: Setup): Result {
  const t0 = performance.now()
  const runs = corpus.files.map((f) => detect(setup.model(f.values), f.ts, f.values))
  const us = ((performance.now() - t0) * 1000) / corpus.files.reduce((a, f) => a + f.values.length, 0)
  const label = `${setup.name} ${setup.trained ? 'trained' : 'untrained'}`
  const totals = []
  let perFile: number[] = []
  for (const [profile, cost] of Object.entries(corpus.profiles)) {
    const rows = corpus.files.map((f, i) => sweepRows(f.name, runs[i]!.scores, f.windows, cost))
    const all = rows.flat()
    const best = bestThreshold(all, cost)
    // what the node raised: its events as detections (score 1 at each event row), no threshold chosen
    const flagged = corpus.files.map((f, i) => {
      const b = new Float64Array(f.values.length)
      for (const row of runs[i]!.events) b[row] = 1
      return scoreAt(sweepRows(f.name, b, f.windows, cost), cost, 1).score
    })
    totals.push({
      events: normalise(
        flagged.reduce((a, b) => a + b, 0),
        countedWindows(all),
        cost,
      ),
      profile,
      normalised: normalise(best.score, countedWindows(all), cost),
      threshold: best.threshold,
      raw: best.score,
    })
    if (profile === 'standard') perFile = rows.map((r) => scoreAt(r, cost, best.threshold).score)
  }
  return { label, perFile, totals, events: runs.reduce((a, r) => a + r.events.length, 0), usPerReading: us }
}

function main(): void {
  let corpus: NabCorpus
  try {
    corpus = loadCorpus(nabDir())
  } catch (e) {
    if (!(e instanceof FoglineError)) throw e
    console.error(formatErrorData(toErrorData(e)))
    process.exit(2)
  }
  const i = process.argv.indexOf('--only')
  const only = i >= 0 ? process.argv[i + 1] : undefined
  const setups = SETUPS.filter((s) => only === undefined || s.name.startsWith(only))
  const windows = corpus.files.reduce((a, f) => a + f.windows.length, 0)
  console.log(`NAB dev subset: ${corpus.files.length} files, ${windows} windows, from ${corpus.dir}`)
  const results = setups.map((s) => evaluate(corpus, s))
  console.log('\nper-file raw score at the corpus threshold, standard profile (a window hit earns up to +1,')
  console.log('a miss costs 1, a false positive up to 0.11):')
  console.log(`${'file'.padEnd(52)}${results.map((_, k) => `#${k + 1}`.padStart(8)).join('')}`)
  corpus.files.forEach((f, n) => {
    const cells = results.map((r) => r.perFile[n]!.toFixed(2).padStart(8)).join('')
    console.log(`${f.name.padEnd(52)}${cells}`)
  })
  console.log(
    '\nnormalised NAB score (threshold swept per profile over the corpus; 100 = perfect, 0 = null):',
  )
  const head = [
    '#',
    'detector'.padEnd(32),
    '   standard',
    '     low_FP',
    '     low_FN',
    'events',
    '  their std/FP/FN',
    'µs/reading',
  ]
  console.log(head.join('  '))
  results.forEach((r, k) => {
    const t = (p: string) => r.totals.find((x) => x.profile === p)!
    const cell = (p: string) =>
      `${t(p).normalised.toFixed(1).padStart(5)} @${t(p).threshold.toFixed(3)}`.padStart(12)
    console.log(
      `#${k + 1} ${r.label.padEnd(32)} ${cell('standard')} ${cell('reward_low_FP_rate')} ${cell('reward_low_FN_rate')} ${String(r.events).padStart(6)}  ${r.totals.map((x) => x.events.toFixed(1).padStart(7)).join('')}  ${r.usPerReading.toFixed(2).padStart(8)}`,
    )
  })
  console.log(
    '\nevents: raised by the stage at the model threshold (0.5; context 0.6, after 1,000 readings of',
  )
  console.log('probation); "their std/FP/FN" = the NAB score of those events alone, no threshold sweep.')
  console.log('µs/reading includes JSON decode and the engine; the shared machine is noisy (bench/anomaly.ts')
  console.log('measures the detectors alone).')
}

main()
