import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hashPassword } from '@fogline/broker'
import { makeTestCa, tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runCli } from '../e2e/helpers.js'
import { testCloud, windowPipeline } from '../fleet.js'
import { tryConnect } from './helpers.js'

const SECRETS = {
  uplink: 'uplink-secret-Q7xv',
  env: 'env-secret-P9kd',
  file: 'file-secret-K2mw',
  wrong: 'wrong-secret-Z3ba',
}

/** Secrets never logged: a node at debug level, every secret configured and used, its whole output grepped. */
describe('secrets never reach the log', () => {
  it('node at debug: uplink password, sensor passwords (env, file, a wrong one tried), TLS key: none in stdout or stderr', async () => {
    const d = tempDir('fogline-secrets-')
    onTestFinished(() => d.remove())
    await using ca = makeTestCa('secret-ca')
    const gw = ca.issue('gw', { cn: 'gw-s', san: ['IP:127.0.0.1'] })
    const cloud = await testCloud(d.path, {
      config: { broker: { embedded: { host: '127.0.0.1', port: 0, nodes: { 'gw-s': SECRETS.uplink } } } },
    })
    writeFileSync(d.file('passwd'), `s-file:${await hashPassword(SECRETS.file)}\n`)
    const config = {
      nodeId: 'gw-s',
      dataDir: join(d.path, 'gw-s'),
      log: { level: 'debug' },
      broker: {
        listeners: [
          { type: 'mqtt', host: '127.0.0.1', port: 0 },
          { type: 'mqtts', host: '127.0.0.1', port: 0, tls: { cert: gw.certPath, key: gw.keyPath } },
        ],
        passwordFile: d.file('passwd'),
        users: { 's-env': 'env:FOGLINE_TEST_SECRET_ENV' },
      },
      uplink: { urls: [cloud.brokerUrl], username: 'gw-s', password: SECRETS.uplink, linger: '5ms' },
      pipelines: [windowPipeline('200ms')],
    }
    writeFileSync(d.file('node.json'), JSON.stringify(config))
    const child = runCli(['node', '--config', d.file('node.json'), '--status-every', '0'], {
      env: { FOGLINE_TEST_SECRET_ENV: SECRETS.env },
    })
    const url = await waitFor(
      () => /sensors publish to (mqtt:\/\/\S+)/.exec(child.out())?.[1],
      'node started',
      30_000,
    )
    const env = (await tryConnect(url, { username: 's-env', password: SECRETS.env })).client!
    const file = (await tryConnect(url, { username: 's-file', password: SECRETS.file })).client!
    expect((await tryConnect(url, { username: 's-file', password: SECRETS.wrong })).code).toBe(4)
    for (const c of [env, file]) await c.publishAsync('sensors/a/t', '1', { qos: 1 })
    await waitFor(async () => (await cloud.store.countRecords({ nodeId: 'gw-s' })) > 0, 'uplinked')
    child.proc.kill('SIGTERM')
    await child.exited
    const out = child.out() + child.err()
    expect(out).toMatch(/"level":20/) // debug lines were written
    expect(out).toMatch(/badPassword/) // the refusal is logged, with its reason
    for (const [name, secret] of Object.entries(SECRETS)) expect(out.includes(secret), name).toBe(false)
    expect(out).not.toContain('PRIVATE KEY')
  })
})
