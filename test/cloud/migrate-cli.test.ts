import { join } from 'node:path'
import { SCHEMA_VERSION } from '@fogline/cloud'
import { describe, expect, it } from 'vitest'
import { fogline, tempDir } from './helpers.js'

describe('fogline migrate', () => {
  it('brings a store to this build’s schema version, then has nothing left to do', async () => {
    const store = `sqlite:${join(tempDir(), 'cloud.db')}`
    const first = await fogline(['migrate', '--store', store, '--json'])
    expect(first.err).toBe('')
    const all = Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1)
    expect(JSON.parse(first.out)).toEqual({ from: 0, to: SCHEMA_VERSION, applied: all })
    const again = await fogline(['migrate', '--store', store])
    expect(again).toMatchObject({
      code: 0,
      out: `fogline migrate: the store is at version ${SCHEMA_VERSION}; nothing to do\n`,
    })
    const bad = await fogline(['migrate', '--store', 'mysql://x'])
    expect(bad.code).not.toBe(0)
    expect(bad.err).toContain('FOG_CONFIG_INVALID')
  }, 60_000)
})
