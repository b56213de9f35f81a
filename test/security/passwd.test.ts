import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { readPasswordFile, verifyPassword } from '@fogline/broker'
import { tempDir } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { broker, tryConnect } from './helpers.js'

const BIN = join(import.meta.dirname, '../../packages/cli/dist/bin.js')
const passwd = (args: string[], input = '') =>
  spawnSync(process.execPath, [BIN, 'passwd', ...args], { input, encoding: 'utf8' })

describe('fogline passwd FILE USER (built CLI)', () => {
  it('adds users from stdin as salted scrypt hashes (0600), the broker admits them, -D deletes', async () => {
    const dir = tempDir('fogline-passwd-')
    onTestFinished(() => dir.remove())
    const file = join(dir.path, 'passwd')
    expect(passwd([file, 'sensor-1'], 'first-pw\n').status).toBe(0)
    expect(passwd([file, 'sensor-2'], 'second-pw\n').status).toBe(0)
    const text = readFileSync(file, 'utf8')
    expect(text).not.toMatch(/first-pw|second-pw/)
    expect(text).toMatch(/^sensor-1:\$scrypt\$N=16384,r=8,p=1\$[^$]+\$[^$]+\nsensor-2:/)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    // the same password twice gives two different lines: salted
    expect(passwd([file, 'sensor-3'], 'first-pw\n').status).toBe(0)
    const entries = readPasswordFile(file)
    expect(entries.get('sensor-1')).not.toBe(entries.get('sensor-3'))
    expect(await verifyPassword('first-pw', entries.get('sensor-1'))).toBe(true)
    expect(await verifyPassword('second-pw', entries.get('sensor-1'))).toBe(false)
    const b = await broker({ passwords: entries })
    expect((await tryConnect(b.url, { username: 'sensor-2', password: 'second-pw' })).client?.connected).toBe(
      true,
    )
    expect(passwd(['-D', file, 'sensor-2']).status).toBe(0)
    expect([...readPasswordFile(file).keys()]).toEqual(['sensor-1', 'sensor-3'])
    b.reload({ passwords: readPasswordFile(file) })
    expect((await tryConnect(b.url, { username: 'sensor-2', password: 'second-pw' })).code).toBe(4)
  })

  it('refuses an empty password, a bad user name and deleting a missing user, with a code', () => {
    const dir = tempDir('fogline-passwd-')
    onTestFinished(() => dir.remove())
    const file = join(dir.path, 'passwd')
    const empty = passwd([file, 'u'], '\n')
    expect(empty.status).not.toBe(0)
    expect(empty.stderr).toMatch(/FOG_CONFIG_INVALID.*empty password/)
    expect(passwd([file, 'a:b'], 'x\n').stderr).toMatch(/FOG_CONFIG_INVALID/)
    expect(passwd(['-D', file, 'ghost']).stderr).toMatch(/FOG_CONFIG_INVALID.*not in the file/)
  })
})
