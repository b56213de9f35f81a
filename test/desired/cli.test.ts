import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateDesiredKeyPair, loadPublicKey, publicKeyRaw } from '@fogline/protocol'
import { describe, expect, it } from 'vitest'
import { api, cli, dir, pipe, simNode, type TestCloud, testCloud, until } from './helpers.js'

/** `fogline push ARGS --url … --token … --key KEYFILE`: the CLI against a test cloud as its operator. */
const pushTo = (cloud: TestCloud, keyFile: string, args: string[]) =>
  cli('push', [...args, '--url', cloud.httpUrl, '--token', cloud.token, '--key', keyFile])

describe('fogline keys / fogline push', () => {
  it('keys writes a usable Ed25519 pair and refuses to overwrite it without --force', async () => {
    const d = dir()
    const r = await cli('keys', ['--out', d])
    expect(r.code).toBe(0)
    const pub = readFileSync(join(d, 'fogline-operator.pub.pem'), 'utf8')
    expect(loadPublicKey(pub).asymmetricKeyType).toBe('ed25519')
    // the key-set entry to paste into desiredKeys / operatorKeys, all scopes by default
    expect(r.out).toContain(`publicKey: ${publicKeyRaw(pub)}`)
    expect(r.out).toMatch(/scopes: \[pipelines, models, uplink\]\n {2}notAfter: \d{4}-/)
    const again = await cli('keys', ['--out', d])
    expect(again.code).not.toBe(0)
    expect(again.err).toContain('FOG_CONFIG_INVALID')
  })

  it('push --node sends a YAML file that the node applies; push --group --canary --wait runs a rollout', async () => {
    const d = dir()
    // the operator's key pair as `fogline keys generate` makes it (tested above), made in-process to spare a
    // child process; the private half is a file on the "operator's machine", the cloud only trusts the public one
    const operator = generateDesiredKeyPair()
    const keyFile = join(d, 'operator.key.pem')
    writeFileSync(keyFile, operator.privateKeyPem, { mode: 0o600 })
    const cloud = await testCloud(dir(), operator)
    const pub = operator.publicKeyPem
    const a = await simNode(cloud.brokerUrl, { nodeId: 'a', group: 'g', publicKey: pub, windowMs: 100 })
    const b = await simNode(cloud.brokerUrl, { nodeId: 'b', group: 'g', publicKey: pub, windowMs: 100 })
    await until(() => a.uplink.stats().connected && b.uplink.stats().connected, 'nodes connected')

    const file = join(d, 'desired.yaml')
    writeFileSync(file, 'note: first\npipelines:\n  - id: yaml-one\n    input: ["sensors/+/+"]\n')
    const r = await pushTo(cloud, keyFile, ['--node', 'a', '--file', file])
    expect(r.err).toBe('')
    expect(r.out).toMatch(
      /^version 1 for node a signed \(key [0-9a-f]{16}\) and published on fogline\/v1\/a\/down\/desired/,
    )
    await until(() => a.agent.appliedVersion() === 1, 'a applied version 1')
    expect(a.running()).toEqual([pipe('yaml-one')])

    writeFileSync(file, 'pipelines:\n  - id: yaml-two\n    input: ["sensors/+/+"]\n')
    const ro = await pushTo(cloud, keyFile, [
      '--group',
      'g',
      '--file',
      file,
      '--canary',
      'a',
      '--timeout',
      '10s',
      '--wait',
    ])
    expect(ro.out).toMatch(/version 2: completed/)
    expect(ro.code).toBe(0)
    await until(() => b.agent.appliedVersion() === 2, 'b applied the group version after the canary')

    writeFileSync(file, 'pipelines:\n  - id: no-input\n')
    const refused = await pushTo(cloud, keyFile, ['--node', 'a', '--file', file])
    expect(refused.code).toBe(1)
    expect(refused.err).toMatch(/FOG_DESIRED_INVALID.*pipelines\.0\.input/)
  })

  it('push --fit NAME=METRIC fits a gaussian model from the stored summaries and pushes it as models.NAME', async () => {
    const cloud = await testCloud()
    const keyFile = join(dir(), 'operator.key.pem')
    writeFileSync(keyFile, cloud.operator.privateKeyPem, { mode: 0o600 })
    const T0 = 1_700_000_000_000
    // two windows of one sensor: 10 readings each, with their population stddev, as the window stage sends
    const win = (i: number, values: number[]) => {
      const mean = values.reduce((a, b) => a + b, 0) / values.length
      const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
      return {
        seq: i + 1,
        ts: T0,
        body: {
          pipelineId: 'p',
          sensorId: 'm1',
          metric: 'vibration',
          start: T0 + i * 60_000,
          end: T0 + (i + 1) * 60_000,
          count: values.length,
          min: Math.min(...values),
          max: Math.max(...values),
          mean,
          sum: mean * values.length,
          aggs: { stddev: sd },
        },
      }
    }
    const all = [
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [3, 3, 3, 3, 3, 5, 5, 5, 5, 5],
    ]
    await cloud.store.insertBatch(
      { nodeId: 'n1', stream: 'summary', batchId: 'b', sentAt: T0, records: all.map((v, i) => win(i, v)) },
      T0,
    )
    const r = await pushTo(cloud, keyFile, ['--node', 'n1', '--fit', 'vib=vibration', '--k', '5'])
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/model vib: fitted from 2 summaries of 1 sensors .* k 5/)
    expect(r.out).toMatch(/version 1 for node n1 signed/)
    const flat = all.flat()
    const mean = flat.reduce((a, b) => a + b, 0) / flat.length
    const std = Math.sqrt(flat.reduce((a, b) => a + (b - mean) ** 2, 0) / flat.length)
    const doc = (await api(cloud.httpUrl, 'GET', '/api/desired/1')).body
    const model = JSON.stringify(doc).match(/"m1":\{"mean":([\d.]+),"std":([\d.]+)\}/)
    expect(model, JSON.stringify(doc)).not.toBeNull()
    expect(Number(model![1])).toBeCloseTo(mean, 8)
    expect(Number(model![2])).toBeCloseTo(std, 8)

    const none = await pushTo(cloud, keyFile, ['--node', 'n1', '--fit', 'x=pressure'])
    expect(none.code).not.toBe(0)
    expect(none.err).toMatch(/FOG_API_BAD_REQUEST field metric: no summaries of metric "pressure" match/)
  })
})
