/**
 * The longest runtime files and functions (packages/*\/src, simulators/src), read with the TypeScript
 * compiler API. Fails when a file is over 400 lines or a function over 80 (house rule), unless the place
 * is on the allowlist in scripts/long-code.allow.json (offenders being split right now; to be emptied).
 * Run: npm run lint:code  [-- --top N] [-- --json] [-- --prune (drop allowlist entries no longer over)]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import ts from 'typescript'

export const MAX_FILE_LINES = 400
export const MAX_FUNCTION_LINES = 80

export interface Measure {
  /** repo-relative path, and for a function `path#name` */
  key: string
  file: string
  name?: string
  line: number
  lines: number
}

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* tsFiles(p)
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p
  }
}

/** Runtime source folders under `root`: every packages/<name>/src and simulators/src. */
export function runtimeDirs(root: string): string[] {
  const pkgs = readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(root, 'packages', e.name, 'src'))
  return [...pkgs, join(root, 'simulators', 'src')].filter((d) => {
    try {
      return readdirSync(d).length >= 0
    } catch {
      return false
    }
  })
}

// a function's name as a reader finds it: its own, or the variable, property or class member it is bound to
function nameOf(fn: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(fn))
    return `${nameOf(fn.parent as unknown as ts.SignatureDeclaration, sf)}.constructor`
  if (fn.name) return fn.name.getText(sf)
  const p = fn.parent
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))
    return p.name.getText(sf)
  if (ts.isClassDeclaration(fn)) return '<class>'
  const { line } = sf.getLineAndCharacterOfPosition(fn.getStart(sf))
  return `<anonymous@${line + 1}>`
}

/** Lines of every function-like node (nested ones count inside their parent too), and of the file. */
export function measureFile(path: string, root: string): { file: Measure; functions: Measure[] } {
  const text = readFileSync(path, 'utf8')
  const rel = relative(root, path)
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
  const functions: Measure[] = []
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line
      const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line
      const name = nameOf(n, sf)
      functions.push({ key: `${rel}#${name}`, file: rel, name, line: start + 1, lines: end - start + 1 })
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length
  return { file: { key: rel, file: rel, line: 1, lines }, functions }
}

export interface Report {
  files: Measure[]
  functions: Measure[]
  /** over the limits and not allowed */
  failures: Measure[]
  /** over the limits, on the allowlist */
  allowed: Measure[]
  /** allowlist entries that are no longer over the limits: remove them */
  stale: string[]
}

export function measureTree(root: string, allow: readonly string[]): Report {
  const files: Measure[] = []
  const functions: Measure[] = []
  for (const dir of runtimeDirs(root))
    for (const f of tsFiles(dir)) {
      const m = measureFile(f, root)
      files.push(m.file)
      functions.push(...m.functions)
    }
  files.sort((a, b) => b.lines - a.lines)
  functions.sort((a, b) => b.lines - a.lines)
  const over = [
    ...files.filter((f) => f.lines > MAX_FILE_LINES),
    ...functions.filter((f) => f.lines > MAX_FUNCTION_LINES),
  ]
  const allowSet = new Set(allow)
  return {
    files,
    functions,
    failures: over.filter((m) => !allowSet.has(m.key)),
    allowed: over.filter((m) => allowSet.has(m.key)),
    stale: allow.filter((k) => !over.some((m) => m.key === k)),
  }
}

function table(title: string, rows: Measure[], limit: number): string {
  const out = [`${title} (limit ${limit})`]
  for (const r of rows) {
    const flag = r.lines > limit ? '  OVER' : ''
    out.push(`  ${String(r.lines).padStart(5)}  ${r.name ? `${r.file}:${r.line} ${r.name}` : r.file}${flag}`)
  }
  return out.join('\n')
}

function main(argv: string[]): number {
  const root = resolve(import.meta.dirname, '..')
  const topArg = argv.indexOf('--top')
  const top = topArg >= 0 ? Number(argv[topArg + 1]) : 10
  const allowFile = join(root, 'scripts/long-code.allow.json')
  const allow = JSON.parse(readFileSync(allowFile, 'utf8')) as { comment: string; entries: string[] }
  const r = measureTree(root, allow.entries)
  if (argv.includes('--prune') && r.stale.length) {
    allow.entries = allow.entries.filter((k) => !r.stale.includes(k))
    writeFileSync(allowFile, `${JSON.stringify(allow, null, 2)}\n`)
    r.stale = []
  }
  if (argv.includes('--json')) {
    console.log(JSON.stringify(r, null, 2))
    return r.failures.length ? 1 : 0
  }
  console.log(table(`longest runtime files (${r.files.length})`, r.files.slice(0, top), MAX_FILE_LINES))
  console.log(
    table(`longest functions (${r.functions.length})`, r.functions.slice(0, top), MAX_FUNCTION_LINES),
  )
  for (const m of r.allowed)
    console.log(`allowed for now (scripts/long-code.allow.json): ${m.key} ${m.lines} lines`)
  for (const k of r.stale)
    console.log(`no longer over the limit, remove from scripts/long-code.allow.json: ${k}`)
  for (const m of r.failures) console.log(`TOO LONG: ${m.key} (line ${m.line}) ${m.lines} lines`)
  const summary = `${r.failures.length} over the limits, ${r.allowed.length} allowed for now`
  console.log(r.failures.length ? `long-code: FAIL, ${summary}` : `long-code: ok, ${summary}`)
  return r.failures.length ? 1 : 0
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2))
