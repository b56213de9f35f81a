import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile, SimConfig } from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { run } from '../src/cli.js'
import { brokerWithSubscriber } from './helpers.js'

function capture() {
  let out = ''
  let err = ''
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s)
    return true
  })
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s)
    return true
  })
  onTestFinished(() => {
    o.mockRestore()
    e.mockRestore()
  })
  return { out: () => out, err: () => err }
}

describe('fogline sim CLI', () => {
  it('runs a scenario file for --duration and prints status lines', async () => {
    const { broker, sub, dir } = await brokerWithSubscriber()
    const file = join(dir, 'sim.yaml')
    writeFileSync(file, `url: ${broker.url}\nsensors:\n  - { id: c, count: 5, rate: 20 }\n`)
    const io = capture()
    const code = await run(['--config', file, '--duration', '1', '--status', '0.4'])
    expect(code).toBe(0)
    expect(io.out()).toMatch(/sim \d+s: \d+ readings/)
    expect(io.out()).toMatch(/sim done: \d+ readings, 0 malformed, 5 sensors/)
    await waitFor(() => sub.got.length >= 90, '90 readings received')
  })

  it('--url sends a scenario to another broker than its file names, and a bad --url is refused', async () => {
    const { broker, sub, dir } = await brokerWithSubscriber()
    const file = join(dir, 'sim.yaml')
    // the file points at a port nothing listens on
    writeFileSync(file, `url: mqtt://127.0.0.1:9\nsensors:\n  - { id: u, count: 2, rate: 20 }\n`)
    const io = capture()
    expect(await run(['--config', file, '--url', broker.url, '--duration', '0.6', '--status', '5'])).toBe(0)
    await waitFor(() => sub.got.length >= 15, '15 readings received')
    expect(await run(['--config', file, '--url', 'http://x'])).toBe(2)
    expect(io.err()).toMatch(/FOG_CONFIG_INVALID field --url/)
  })

  it('a bad config prints its code, field and line, no stack, exit 2', async () => {
    const dir = tempDir('fogline-sim-', onTestFinished).path
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'url: mqtt://127.0.0.1:1\nsensors:\n  - id: a\n    rate: -3\n')
    const io = capture()
    expect(await run(['--config', file])).toBe(2)
    expect(io.err()).toMatch(/^FOG_CONFIG_INVALID: .*field=sensors\[0\]\.rate.*line=4/)
    expect(io.err()).not.toMatch(/\n\s+at /)
    expect(await run(['--config', join(dir, 'missing.yaml')])).toBe(2)
    expect(io.err()).toMatch(/FOG_CONFIG_NOT_FOUND/)
    expect(await run([])).toBe(2)
  })

  it('every scenario in configs/scenarios validates', () => {
    const root = join(import.meta.dirname, '../../configs/scenarios')
    const files = readdirSync(root).filter((f) => f.endsWith('.yaml'))
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const f of files)
      expect(loadConfigFile(SimConfig, join(root, f)).sensors.length, f).toBeGreaterThan(0)
  })
})
