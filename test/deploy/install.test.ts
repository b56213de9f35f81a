import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCloud } from '@fogline/cloud'
import { tempDir, waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { readServiceUnit } from './unit-file.js'

// The gateway install, for real: pack the tarball once, run deploy/install.sh as root on this machine
// (/opt/fogline, /etc/fogline, /var/lib/fogline, a `fogline` system user, units in /etc/systemd/system).
// CI runs as root without systemd as PID 1, so the node is started from the installed unit's ExecStart,
// User, Group, Environment and WorkingDirectory, the way systemd would (its sandbox is not applied here;
// `systemd-analyze security` scores it below).
const repo = join(import.meta.dirname, '..', '..')
const isRoot = process.getuid?.() === 0
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0
const CI = process.env['CI'] === 'true'
const UNITS = ['fogline-node.service', 'fogline-cloud.service']

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' })
const idOf = (flag: '-u' | '-g', name: string) => Number(sh('id', [flag, name]).trim())

describe.skipIf(!isRoot && !CI)('gateway install (skipped: needs root, as in CI)', () => {
  let tarball = ''
  beforeAll(() => {
    // one tarball for every test here: packing copies ~180 packages
    const out = tempDir('fogline-pack-')
    execFileSync('node', [join(repo, 'deploy', 'pack.mjs'), '--out', out.path], { stdio: 'pipe' })
    tarball = join(out.path, readdirSync(out.path).find((f) => f.endsWith('.tar.gz'))!)
    sh('sh', [join(repo, 'deploy', 'install.sh'), tarball])
    return () => out.remove()
  }, 120_000)

  it('install.sh lays out /opt, /etc and /var/lib for a fogline system user; a rerun keeps config and data', () => {
    expect(sh('getent', ['passwd', 'fogline'])).toMatch(
      /^fogline:x:\d+:\d+:.*:\/var\/lib\/fogline:\/usr\/sbin\/nologin/,
    )
    expect(idOf('-u', 'fogline')).toBeLessThan(1000) // a system account
    expect(statSync('/opt/fogline').uid).toBe(0) // the service cannot rewrite its own code
    const data = statSync('/var/lib/fogline/node')
    expect([data.uid, data.gid, data.mode & 0o777]).toEqual([
      idOf('-u', 'fogline'),
      idOf('-g', 'fogline'),
      0o750,
    ])
    const conf = statSync('/etc/fogline/node.yaml')
    expect([conf.uid, conf.gid, conf.mode & 0o777]).toEqual([0, idOf('-g', 'fogline'), 0o640])
    for (const u of UNITS) expect(existsSync(join('/etc/systemd/system', u))).toBe(true)
    // only production dependencies: no dev tools in the release
    for (const dev of ['vitest', 'typescript', '@biomejs', 'turbo', 'tsx'])
      expect(existsSync(join('/opt/fogline/node_modules', dev))).toBe(false)
    expect(sh('/usr/local/bin/fogline', ['--help'])).toMatch(/^Usage: fogline <command>/)

    // an upgrade (the same tarball again) keeps an edited config and the data
    const edited = `${readFileSync('/etc/fogline/node.yaml', 'utf8')}# edited by the operator\n`
    writeFileSync('/etc/fogline/node.yaml', edited)
    const marker = '/var/lib/fogline/node/upgrade-marker'
    writeFileSync(marker, 'kept')
    onTestFinished(() => rmSync(marker, { force: true }))
    const again = sh('sh', [join(repo, 'deploy', 'install.sh'), tarball])
    expect(again).not.toMatch(/created system user|installed example/)
    expect(readFileSync('/etc/fogline/node.yaml', 'utf8')).toBe(edited)
    expect(readFileSync(marker, 'utf8')).toBe('kept')
    expect(existsSync('/opt/fogline.prev/package.json')).toBe(true)
  })

  it('the installed node starts from its unit ExecStart as the unit user and takes a reading', async () => {
    const unit = readServiceUnit('/etc/systemd/system/fogline-node.service')
    expect(unit.user).toBe('fogline')
    expect(unit.environment['NODE_OPTIONS']).toBe(
      '--max-semi-space-size=1 --v8-pool-size=1 --max-old-space-size=256',
    )
    expect(unit.execStart).toContain('/etc/fogline/node.yaml')
    // the V8 flag NODE_OPTIONS does not take goes before the script; the node below starts with it
    expect(unit.execStart.slice(0, 2)).toEqual(['/usr/bin/node', '--compact-on-every-full-gc'])

    const tmp = tempDir('fogline-deploy-')
    onTestFinished(() => tmp.remove())
    const cloud = await startCloud({
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      store: { sqlite: tmp.file('cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
    })
    onTestFinished(() => cloud.stop())

    // this test's own config and data folder (ports 0: the node prints where it listens)
    const nodeId = `deploy-${process.pid}`
    const dataDir = `/var/lib/fogline/${nodeId}`
    sh('install', ['-d', '-o', 'fogline', '-g', 'fogline', '-m', '0750', dataDir])
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }))
    const saved = readFileSync('/etc/fogline/node.yaml', 'utf8')
    onTestFinished(() => writeFileSync('/etc/fogline/node.yaml', saved))
    writeFileSync(
      '/etc/fogline/node.yaml',
      [
        `nodeId: ${nodeId}`,
        `dataDir: ${dataDir}`,
        'broker: { host: 127.0.0.1, port: 0 }',
        `uplink: { urls: ["${cloud.brokerUrl}"], reconnect: { min: 50ms, max: 500ms } }`,
        'log: { level: warn }',
        'pipelines:',
        '  - { id: p, input: ["sensors/+/+"], stages: [{ type: window, kind: count, count: 1, aggregates: [count, sum] }] }',
        '',
      ].join('\n'),
    )

    const [cmd, ...args] = unit.execStart
    const child: ChildProcess = spawn(cmd!, args, {
      uid: idOf('-u', unit.user),
      gid: idOf('-g', unit.group),
      cwd: unit.workingDirectory,
      env: { PATH: '/usr/bin:/bin', ...unit.environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (b) => (out += b))
    child.stderr!.on('data', (b) => (out += b))
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    onTestFinished(() => void child.kill('SIGKILL'))
    const url = await waitFor(
      () => /sensors publish to (mqtt:\/\/\S+)/.exec(out)?.[1],
      `the node's broker URL in:\n${out}`,
      20_000,
    )

    const sensor = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
    onTestFinished(() => sensor.endAsync(true))
    await sensor.publishAsync('sensors/s1/temp', '21.5', { qos: 1 })
    const rows = await waitFor(
      async () => {
        const r = await cloud.store.querySummaries({ nodeId, limit: 10 })
        return r.length > 0 ? r : null
      },
      'the summary of the reading in the cloud store',
      20_000,
    )
    expect(rows.map((r) => [r.count, r.sum])).toEqual([[1, 21.5]])
    // the outbox was written by the service user in its data folder
    expect(statSync(join(dataDir, 'outbox.db')).uid).toBe(idOf('-u', 'fogline'))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  describe.skipIf(!hasAnalyze && !CI)(
    'systemd-analyze (skipped: Debian package systemd not installed)',
    () => {
      it.each(UNITS)('systemd-analyze verify passes on the installed %s', (u) => {
        const r = spawnSync('systemd-analyze', ['verify', join('/etc/systemd/system', u)], {
          encoding: 'utf8',
        })
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' })
      })

      it.each(UNITS)('systemd-analyze security --offline=true scores %s at 2.0 or below', (u) => {
        const r = spawnSync(
          'systemd-analyze',
          ['security', '--offline=true', join('/etc/systemd/system', u)],
          {
            encoding: 'utf8',
          },
        )
        const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1])
        expect(score).toBeLessThanOrEqual(2.0)
        expect(score).toBeGreaterThan(0)
      })
    },
  )
})
