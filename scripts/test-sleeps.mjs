/**
 * Wall-clock sleeps in tests (house rule: wait on a condition or step the fake clock; at most 5 in the tree,
 * each with a comment saying why). Lists every one with its comment (same line or the line above).
 * Run: node scripts/test-sleeps.mjs   (exit 1 when over the limit or one has no comment)
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

const MAX = 5
const root = resolve(import.meta.dirname, '..')
// a timer promise, a local sleep helper called with a number, or node:timers/promises
const SLEEP =
  /new Promise[^\n]*setTimeout\(\s*\w+\s*,|\bawait sleep\((?!clock\b|(?!systemClock\b)\w*[cC]lock\b)|timers\/promises/

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* files(p)
    else if (/\.(ts|mjs|js)$/.test(e.name)) yield p
  }
}
const testDirs = [join(root, 'test'), join(root, 'simulators/test')]
for (const p of readdirSync(join(root, 'packages'))) testDirs.push(join(root, 'packages', p, 'test'))

const found = []
for (const dir of testDirs) {
  let list
  try {
    list = [...files(dir)]
  } catch {
    continue
  }
  for (const f of list) {
    const lines = readFileSync(f, 'utf8').split('\n')
    lines.forEach((line, i) => {
      if (!SLEEP.test(line) || /^\s*(\/\/|\*)/.test(line)) return
      const why = line.match(/\/\/\s*(.*)$/)?.[1] ?? lines[i - 1]?.match(/^\s*\/\/\s*(.*)$/)?.[1]
      found.push({ at: `${relative(root, f)}:${i + 1}`, why })
    })
  }
}
for (const s of found) console.log(`${s.at}  ${s.why ? `// ${s.why}` : '(no comment saying why)'}`)
const bare = found.filter((s) => !s.why).length
console.log(`wall-clock sleeps in tests: ${found.length} (limit ${MAX}), ${bare} without a comment`)
process.exitCode = found.length > MAX || bare > 0 ? 1 : 0
