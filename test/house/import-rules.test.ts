import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'

// The import rules (.dependency-cruiser.cjs) run in `npm test`'s pretest as `npm run lint:imports`.
// Here each rule is shown to fire on a planted violation in a small fixture tree, and the real tree passes.
const ROOT = resolve(import.meta.dirname, '../..')
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs')
const run = promisify(execFile)

/** Runs the check as `npm run lint:imports` does (err reporter): its exit code and its `rule: from` lines. */
async function cruise(
  cwd: string,
  args: string[],
): Promise<{ code: number; violations: string[]; output: string }> {
  const argv = [DEPCRUISE, '--config', join(ROOT, '.dependency-cruiser.cjs'), '-T', 'err', ...args]
  const out = await run(process.execPath, argv, { cwd }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout + e.stderr }),
  )
  const violations = [...out.stdout.matchAll(/^\s*error ([\w-]+): (\S+) →/gm)].map((m) => `${m[1]}: ${m[2]}`)
  return { code: out.code, violations, output: out.stdout }
}

const PACKAGES = ['protocol', 'pipeline', 'outbox', 'uplink', 'node', 'cloud', 'testkit']

/** A tiny workspace: one index.ts per package, linked under node_modules/@fogline like npm does. */
function fixture(files: Record<string, string>) {
  const dir = tempDir('fogline-imports-')
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir.path, rel)), { recursive: true })
    writeFileSync(join(dir.path, rel), text)
  }
  copyFileSync(join(ROOT, 'tsconfig.base.json'), dir.file('tsconfig.base.json'))
  mkdirSync(dir.file('node_modules/@fogline'), { recursive: true })
  for (const p of PACKAGES) {
    const exportsMap = { '.': { source: './src/index.ts', default: './dist/index.js' } }
    write(
      `packages/${p}/package.json`,
      JSON.stringify({ name: `@fogline/${p}`, type: 'module', exports: exportsMap }),
    )
    write(`packages/${p}/src/index.ts`, 'export const x = 1\n')
    symlinkSync(`../../packages/${p}`, dir.file(`node_modules/@fogline/${p}`))
  }
  for (const [rel, text] of Object.entries(files)) write(rel, text)
  return dir
}

// one planted violation per rule, named by the rule it breaks
const PLANTED: Record<string, [file: string, text: string]> = {
  'no-circular': ['packages/pipeline/src/a.ts', "import { b } from './b.js'\nexport const a = b\n"],
  'no-deep-import': ['packages/node/src/deep.ts', "export { x } from '@fogline/protocol/src/index.js'\n"],
  'no-cross-package-path': ['packages/node/src/cross.ts', "export { c } from '../../protocol/src/c.js'\n"],
  'no-path-into-src-from-root-tests': [
    'test/e2e/deep.test.ts',
    "export { c } from '../../packages/protocol/src/c.js'\n",
  ],
  'protocol-imports-no-package': ['packages/protocol/src/up.ts', "export { x } from '@fogline/pipeline'\n"],
  'uplink-not-downstream': ['packages/uplink/src/down.ts', "export { x } from '@fogline/node'\n"],
  'fog-parts-not-root': ['packages/outbox/src/up.ts', "export { x } from '@fogline/uplink'\n"],
  'cloud-not-fog-runtime': ['packages/cloud/src/fog.ts', "export { x } from '@fogline/pipeline'\n"],
  'runtime-not-testkit': ['packages/pipeline/src/kit.ts', "export { x } from '@fogline/testkit'\n"],
}

// imports that are fine: by package name, inside a package, a package's tests into its own src/
const ALLOWED: Record<string, string> = {
  'packages/node/src/wire.ts': "export { x } from '@fogline/pipeline'\nexport { y } from './y.js'\n",
  'packages/node/src/y.ts': "export { x as y } from '@fogline/uplink'\n",
  'packages/node/test/wire.test.ts': "export { x } from '../src/wire.js'\nexport * from '@fogline/testkit'\n",
  'test/e2e/ok.test.ts': "export { x } from '@fogline/node'\n",
}

describe('import rules (dependency-cruiser)', () => {
  it('the tree passes: npm run lint:imports', async () => {
    const r = await cruise(ROOT, [
      '--ignore-known',
      '.dependency-cruiser-known-violations.json',
      'packages',
      'simulators',
      'test',
      'bench',
      'eval',
    ])
    expect(r.violations).toEqual([])
    expect(r.output).toContain('no dependency violations found')
    expect(r.code).toBe(0)
  })

  it('each planted violation fails the check, naming its rule and file; allowed imports pass', async () => {
    using dir = fixture({
      ...ALLOWED,
      ...Object.fromEntries(Object.values(PLANTED)),
      'packages/pipeline/src/b.ts':
        "import { a } from './a.js'\nexport const b = 1\nexport const ab = () => a\n",
      'packages/protocol/src/c.ts': 'export const c = 1\n',
    })
    const r = await cruise(dir.path, ['packages', 'test'])
    expect(r.code).not.toBe(0)
    const planted = Object.entries(PLANTED).map(([rule, [file]]) => `${rule}: ${file}`)
    // a path into a package that its exports map does not offer does not resolve either
    expect(r.violations.sort()).toEqual([...planted, 'not-to-unresolvable: packages/node/src/deep.ts'].sort())
  })
})
