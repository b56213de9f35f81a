/**
 * Declared dependencies that no file of the package imports (a depcheck-like grep). Types packages count as
 * used when their runtime package is imported; tools run by name from scripts count when a script names them;
 * the root's devDependencies are the tree's shared test tools, so an import anywhere counts for them.
 * Run: node scripts/unused-deps.mjs   (exit 1 when one is found)
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const SKIP = new Set(['node_modules', 'dist', '.git', 'test-artifacts'])

function* files(dir, nested) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name) || (nested && e.isDirectory() && nested(join(dir, e.name)))) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* files(p, nested)
    else if (/\.(ts|mts|cts|js|mjs|cjs|tsx)$/.test(e.name)) yield p
  }
}

const workspaces = [
  ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)),
  join(root, 'simulators'),
]
const isWorkspace = (d) => workspaces.includes(d)
const IMPORT = /(?:from\s+|import\s*\(\s*|require(?:\.resolve)?\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g

let found = 0
for (const dir of [root, ...workspaces]) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const declared = { ...pkg.dependencies, ...pkg.devDependencies }
  const used = new Set()
  // the root's devDependencies are the tree's shared tools: an import anywhere counts for them
  for (const f of files(dir, dir === root ? undefined : isWorkspace))
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      const spec = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0]
      used.add(spec)
    }
  const scripts = Object.values(pkg.scripts ?? {}).join(' ')
  for (const name of Object.keys(declared)) {
    const runtime = name.startsWith('@types/') ? name.slice(7).replace(/^(.*)__(.*)$/, '@$1/$2') : name
    if (used.has(name) || used.has(runtime) || runtime === 'node') continue
    // tools run by their bin name from a script
    const bins = { '@biomejs/biome': 'biome', 'dependency-cruiser': 'depcruise', typescript: 'tsc' }
    if (scripts.includes(bins[name] ?? name)) continue
    console.log(
      `${relative(root, join(dir, 'package.json')) || 'package.json'}: ${name} is declared but never imported`,
    )
    found++
  }
}
console.log(`unused declared dependencies: ${found}`)
process.exitCode = found ? 1 : 0
