import { mkdirSync, writeFileSync } from 'node:fs'
import { tempDir } from '@fogline/testkit'
import { describe, expect, it } from 'vitest'
import { MAX_FUNCTION_LINES, measureTree } from '../../scripts/long-code.js'

// scripts/long-code.ts runs in `npm test`'s pretest (npm run lint:code); here it is shown to count right.
const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  const v${i} = ${i}`).join('\n')

function tree(files: Record<string, string>) {
  const dir = tempDir('fogline-long-code-')
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dir.file(rel.slice(0, rel.lastIndexOf('/'))), { recursive: true })
    writeFileSync(dir.file(rel), text)
  }
  return dir
}

describe('long-code script', () => {
  it('finds a function over 80 lines by the name a reader knows, a file over 400, and honours the allowlist', () => {
    using dir = tree({
      'packages/a/src/long.ts': `export function long() {\n${body(MAX_FUNCTION_LINES + 1)}\n}\n`,
      'packages/a/src/ok.ts': `export const ok = () => {\n${body(MAX_FUNCTION_LINES)}\n}\n`,
      'packages/b/src/big.ts': `${'export const x = 1\n'.repeat(401)}`,
      'simulators/src/arrow.ts': `export const run = async () => {\n${body(90)}\n}\n`,
    })
    const r = measureTree(dir.path, ['packages/b/src/big.ts', 'packages/gone/src/old.ts'])
    expect(r.failures.map((m) => [m.key, m.lines])).toEqual([
      ['simulators/src/arrow.ts#run', 90],
      ['packages/a/src/long.ts#long', 81],
    ])
    expect(r.allowed.map((m) => m.key)).toEqual(['packages/b/src/big.ts'])
    expect(r.stale).toEqual(['packages/gone/src/old.ts'])
    expect(r.functions.find((m) => m.key === 'packages/a/src/ok.ts#ok')?.lines).toBe(80)
  })

  it('counts a nested function inside its parent too', () => {
    using dir = tree({
      'packages/a/src/nest.ts': `export function outer() {\n  function inner() {\n${body(50)}\n  }\n${body(50)}\n}\n`,
    })
    const r = measureTree(dir.path, [])
    expect(r.functions.map((m) => [m.name, m.lines])).toEqual([
      ['outer', 100],
      ['inner', 50],
    ])
    expect(r.failures.map((m) => m.key)).toEqual(['packages/a/src/nest.ts#outer'])
  })
})
