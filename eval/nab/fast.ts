/**
 * `npm run eval:nab:fast -- '{"kind":"context","block":6}'`: one model's normalised NAB scores on the dev
 * subset, the detector called directly (createDetector) instead of through the engine: the same scores as
 * `npm run eval:nab` gives that model untrained, in a few seconds, for trying settings. `-v` adds per-file
 * raw scores at the standard threshold. Report a setting from the full `eval:nab`, not from this loop.
 */
import { AnomalyModel, createDetector } from '@fogline/pipeline'
import { loadCorpus, nabDir } from './corpus.js'
import { bestThreshold, countedWindows, normalise, scoreAt, sweepRows } from './scorer.js'

function main(): void {
  const corpus = loadCorpus(nabDir())
  const arg = process.argv.slice(2).find((a) => a.startsWith('{'))
  const model = AnomalyModel.parse(JSON.parse(arg ?? '{"kind":"context"}'))
  const t0 = performance.now()
  const runs = corpus.files.map((f) => {
    const d = createDetector(model, 'nab')
    if (d === undefined) throw new Error('the model scores nothing without per-sensor parameters')
    return Float64Array.from(f.values, (x) => d.update(x))
  })
  const readings = runs.reduce((a, r) => a + r.length, 0)
  const us = ((performance.now() - t0) * 1000) / readings
  const cells: string[] = []
  for (const [profile, cost] of Object.entries(corpus.profiles)) {
    const rows = corpus.files.map((f, i) => sweepRows(f.name, runs[i]!, f.windows, cost))
    const best = bestThreshold(rows.flat(), cost)
    const score = normalise(best.score, countedWindows(rows.flat()), cost)
    cells.push(`${profile.replace('reward_', '')} ${score.toFixed(1)} @${best.threshold.toFixed(3)}`)
    if (profile === 'standard' && process.argv.includes('-v'))
      corpus.files.forEach((f, i) => {
        console.log(`${f.name.padEnd(60)} ${scoreAt(rows[i]!, cost, best.threshold).score.toFixed(2)}`)
      })
  }
  console.log(`${cells.join(' | ')} | ${us.toFixed(2)} µs/reading | ${JSON.stringify(model)}`)
}

main()
