/**
 * `npm run eval:nab:split`: does the default detector's dev-subset score generalise? The NAB total picks one
 * threshold per profile on the very files it scores, and the detector's defaults were chosen on them too, so
 * this scores files the choice did not see:
 * 1. threshold cross-validation: the threshold swept on half the files (stratified by category) scores the
 *    other half, and the threshold swept on three categories scores the fourth (leave one category out);
 *    then the same 2-fold split over 20 seeded shuffles (each file scored at the other half's threshold);
 * 2. the slow channel's `block` tuned on one half (best standard score there) scores the other half, beside
 *    both halves at the default.
 * Every series runs through the node's real anomaly stage (detect.ts), as in `npm run eval:nab`.
 */
import { FoglineError, formatErrorData, toErrorData } from '@fogline/protocol'
import { loadCorpus, type NabFile, nabDir } from './corpus.js'
import { detect } from './detect.js'
import { bestThreshold, type CostMatrix, countedWindows, normalise, scoreAt, sweepRows } from './scorer.js'

const BLOCKS = [4, 6, 8, 10, 12, 16]
const DEFAULT_BLOCK = 8
const SHUFFLES = 20

type Scores = Map<string, Float64Array>

const category = (f: NabFile) => f.name.split('/')[0]!

/**
 * half A / half B: alternate files within each category, so both halves hold every kind; by name, or in a
 * seeded shuffle of each category (seed > 0)
 */
function halves(files: NabFile[], seed = 0): [NabFile[], NabFile[]] {
  const a: NabFile[] = []
  const b: NabFile[] = []
  let s = seed
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
  for (const c of [...new Set(files.map(category))]) {
    const list = files.filter((f) => category(f) === c)
    if (seed > 0)
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1))
        ;[list[i], list[j]] = [list[j]!, list[i]!]
      }
    list.forEach((f, i) => {
      ;(i % 2 === 0 ? a : b).push(f)
    })
  }
  return [a, b]
}

/** 2-fold over seeded shuffles: each half scored at the other's threshold, summed, normalised over all files */
function shuffledCv(files: NabFile[], s: Scores, cost: CostMatrix, seeds: number): number[] {
  const out: number[] = []
  for (let seed = 1; seed <= seeds; seed++) {
    const [a, b] = halves(files, seed)
    const ab = crossScore(b, a, s, cost)
    const ba = crossScore(a, b, s, cost)
    out.push(normalise(ab.raw + ba.raw, ab.windows + ba.windows, cost))
  }
  return out
}

const rowsOf = (files: NabFile[], s: Scores, cost: CostMatrix) =>
  files.map((f) => sweepRows(f.name, s.get(f.name)!, f.windows, cost))

/** the threshold swept on `fit`, and the normalised score of `test` at it (and at its own best threshold) */
function crossScore(fit: NabFile[], test: NabFile[], s: Scores, cost: CostMatrix) {
  const threshold = bestThreshold(rowsOf(fit, s, cost).flat(), cost).threshold
  const rows = rowsOf(test, s, cost)
  const raw = rows.reduce((a, r) => a + scoreAt(r, cost, threshold).score, 0)
  const windows = countedWindows(rows.flat())
  const own = bestThreshold(rows.flat(), cost)
  return {
    threshold,
    raw,
    windows,
    out: normalise(raw, windows, cost),
    own: normalise(own.score, windows, cost),
    ownThreshold: own.threshold,
  }
}

function scoresFor(files: NabFile[], model: unknown): Scores {
  return new Map(files.map((f) => [f.name, detect(model, f.ts, f.values).scores]))
}

const f1 = (x: number) => x.toFixed(1).padStart(6)
const f3 = (x: number) => x.toFixed(3)

function thresholdCv(files: NabFile[], s: Scores, profiles: Record<string, CostMatrix>): void {
  const [a, b] = halves(files)
  console.log(`\n1. threshold cross-validation, default context (halves: ${a.length} / ${b.length} files)`)
  console.log("profile              half  own-threshold score  other half's threshold → score   LOCO total")
  const folds: string[] = []
  for (const [p, cost] of Object.entries(profiles)) {
    const ab = crossScore(b, a, s, cost)
    const ba = crossScore(a, b, s, cost)
    // leave one category out: each category scored at the threshold of the other three
    let raw = 0
    let windows = 0
    for (const c of [...new Set(files.map(category))]) {
      const r = crossScore(
        files.filter((f) => category(f) !== c),
        files.filter((f) => category(f) === c),
        s,
        cost,
      )
      raw += r.raw
      windows += r.windows
    }
    const loco = normalise(raw, windows, cost)
    const cv = shuffledCv(files, s, cost, SHUFFLES).sort((x, y) => x - y)
    const mean = cv.reduce((x, y) => x + y, 0) / cv.length
    folds.push(
      `${p.padEnd(20)} mean ${f1(mean)}  min ${f1(cv[0]!)}  median ${f1(cv[cv.length >> 1]!)}  max ${f1(cv.at(-1)!)}`,
    )
    for (const [name, r] of [
      ['A', ab],
      ['B', ba],
    ] as const) {
      console.log(
        `${p.padEnd(20)} ${name}   ${f1(r.own)} @${f3(r.ownThreshold)}        @${f3(r.threshold)} → ${f1(r.out)}          ${name === 'A' ? f1(loco) : ''}`,
      )
    }
  }
  console.log(
    `\n2-fold, ${SHUFFLES} stratified shuffles: every file at the other half's threshold, normalised over all`,
  )
  for (const l of folds) console.log(l)
}

function blockCv(files: NabFile[], profiles: Record<string, CostMatrix>): void {
  const cost = profiles['standard']!
  const [a, b] = halves(files)
  const byBlock = new Map(BLOCKS.map((k) => [k, scoresFor(files, { kind: 'context', block: k })]))
  console.log('\n2. block tuned on one half (standard, threshold swept on that half), scored on the other')
  console.log(`block ${BLOCKS.map((k) => String(k).padStart(6)).join('')}   (normalised, own threshold)`)
  for (const [name, half] of [
    ['A', a],
    ['B', b],
  ] as const) {
    const cells = BLOCKS.map((k) => f1(crossScore(half, half, byBlock.get(k)!, cost).own))
    console.log(`half ${name} ${cells.join('')}`)
  }
  for (const [fitName, fit, test] of [
    ['A', a, b],
    ['B', b, a],
  ] as const) {
    let best = BLOCKS[0]!
    let bestScore = -Infinity
    for (const k of BLOCKS) {
      const sc = crossScore(fit, fit, byBlock.get(k)!, cost).own
      if (sc > bestScore) [best, bestScore] = [k, sc]
    }
    const tuned = crossScore(fit, test, byBlock.get(best)!, cost)
    const dflt = crossScore(fit, test, byBlock.get(DEFAULT_BLOCK)!, cost)
    console.log(
      `tuned on ${fitName}: block ${best} (${f1(bestScore)} there) → other half ${f1(tuned.out)}; default block ${DEFAULT_BLOCK} → ${f1(dflt.out)}`,
    )
  }
}

function main(): void {
  try {
    const corpus = loadCorpus(nabDir())
    console.log(`NAB dev subset: ${corpus.files.length} files, from ${corpus.dir}`)
    const s = scoresFor(corpus.files, { kind: 'context' })
    thresholdCv(corpus.files, s, corpus.profiles)
    blockCv(corpus.files, corpus.profiles)
    console.log(
      '\nown = threshold swept on that half itself (in-sample); → = out of sample. LOCO: each category',
    )
    console.log('scored at the threshold swept on the other three, summed, normalised over all 24 files.')
  } catch (e) {
    if (!(e instanceof FoglineError)) throw e
    console.error(formatErrorData(toErrorData(e)))
    process.exit(2)
  }
}

main()
