import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateDesiredKeyPair, loadPublicKey } from '@fogline/protocol'
import { describe, expect, it } from 'vitest'
import { dir, pipe, simNode, testCloud, until } from './helpers.js'

/** Run `fogline keys|push …` (the command module) in a child Node process and collect its output. */
async function cli(
  cmd: 'keys' | 'push',
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CHILD, cmd, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)))
  return { code, out, err }
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'cli-child.ts')

describe('fogline keys / fogline push', () => {
  it('keys writes a usable Ed25519 pair and refuses to overwrite it without --force', async () => {
    const d = dir()
    const r = await cli('keys', ['--out', d])
    expect(r.code).toBe(0)
    expect(r.out).toContain('BEGIN PUBLIC KEY')
    const pub = readFileSync(join(d, 'fogline-desired.pub.pem'), 'utf8')
    expect(loadPublicKey(pub).asymmetricKeyType).toBe('ed25519')
    const again = await cli('keys', ['--out', d])
    expect(again.code).not.toBe(0)
    expect(again.err).toContain('FOG_CONFIG_INVALID')
  })

  it('push --node sends a YAML file that the node applies; push --group --canary --wait runs a rollout', async () => {
    const d = dir()
    // the key pair as `fogline keys` makes it (tested above), made in-process to spare a child process
    const { privateKeyPem: keyPem, publicKeyPem: pub } = generateDesiredKeyPair()
    const cloud = await testCloud(dir(), keyPem)
    const a = await simNode(cloud.brokerUrl, { nodeId: 'a', group: 'g', publicKey: pub, windowMs: 100 })
    const b = await simNode(cloud.brokerUrl, { nodeId: 'b', group: 'g', publicKey: pub, windowMs: 100 })
    await until(() => a.uplink.stats().connected && b.uplink.stats().connected, 'nodes connected')

    const file = join(d, 'desired.yaml')
    writeFileSync(file, 'note: first\npipelines:\n  - id: yaml-one\n    input: ["sensors/+/+"]\n')
    const r = await cli('push', ['--node', 'a', '--file', file, '--url', cloud.httpUrl])
    expect(r.err).toBe('')
    expect(r.out).toMatch(
      /^version 1 for node a signed \(key [0-9a-f]{16}\) and published on fogline\/v1\/a\/down\/desired/,
    )
    await until(() => a.agent.appliedVersion() === 1, 'a applied version 1')
    expect(a.running()).toEqual([pipe('yaml-one')])

    writeFileSync(file, 'pipelines:\n  - id: yaml-two\n    input: ["sensors/+/+"]\n')
    const ro = await cli('push', [
      '--group',
      'g',
      '--file',
      file,
      '--canary',
      'a',
      '--timeout',
      '10s',
      '--wait',
      '--url',
      cloud.httpUrl,
    ])
    expect(ro.out).toMatch(/version 2: completed/)
    expect(ro.code).toBe(0)
    await until(() => b.agent.appliedVersion() === 2, 'b applied the group version after the canary')

    writeFileSync(file, 'pipelines:\n  - id: no-input\n')
    const refused = await cli('push', ['--node', 'a', '--file', file, '--url', cloud.httpUrl])
    expect(refused.code).toBe(1)
    expect(refused.err).toMatch(/FOG_DESIRED_INVALID.*pipelines\.0\.input/)
  })
})
