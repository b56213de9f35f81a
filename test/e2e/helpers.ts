import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir as testkitTempDir, waitFor } from '@fogline/testkit'
import { onTestFinished } from 'vitest'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** A temp folder (its path) removed when the test finishes, after what the test started has stopped. */
export function tempDir(): string {
  return testkitTempDir('fogline-e2e-', onTestFinished).path
}

/** testkit's waitFor with the end-to-end default of 20 s (several processes, a loaded machine). */
export const until = <T>(cond: () => T | Promise<T>, what: string, ms = 20_000) => waitFor(cond, what, ms, 50)

export interface Child {
  proc: ChildProcess
  out: () => string
  err: () => string
  exited: Promise<number | null>
}

/** Run the fogline CLI from TypeScript sources in a child process (killed when the test ends). */
export function runCli(args: string[], opts: { built?: boolean; env?: Record<string, string> } = {}): Child {
  const argv = opts.built
    ? [join(repoRoot, 'packages/cli/dist/bin.js'), ...args]
    : ['--conditions=source', '--import', 'tsx', join(repoRoot, 'packages/cli/src/bin.ts'), ...args]
  const proc = spawn(process.execPath, argv, {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  )
  onTestFinished(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  return { proc, out: () => out, err: () => err, exited }
}

/** `fogline node --config FILE` in a child process; resolves once it names its local broker's URL. */
export async function nodeChild(config: string, statusEvery = '0'): Promise<{ child: Child; url: string }> {
  const child = runCli(['node', '--config', config, '--status-every', statusEvery])
  const url = await until(
    () => /sensors publish to (mqtt:\/\/\S+)/.exec(child.out())?.[1],
    'the node child started',
  )
  return { child, url }
}

/** Reference aggregates computed the slow, obvious way. */
export function reference(values: number[]): {
  count: number
  min: number
  max: number
  mean: number
  sum: number
} {
  let sum = 0
  for (const v of values) sum += v
  return {
    count: values.length,
    min: Math.min(...values),
    max: Math.max(...values),
    mean: sum / values.length,
    sum,
  }
}
