import { type ChildProcess, spawn } from 'node:child_process'
import { systemClock } from '@fogline/protocol'

export interface ChildRun {
  readonly child: ChildProcess
  readonly pid: number
  /** stdout and stderr so far */
  output(): string
  /** resolves with the first stdout/stderr line matching `re` */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>
  /** SIGKILL: no cleanup runs in the child */
  kill9(): Promise<void>
  /** resolves when the child has exited: its code, or the signal name */
  exited: Promise<number | string>
}

/**
 * Run a TypeScript file in a child Node process (sources through the `source` condition and tsx).
 * `plain: true` runs a built JavaScript file with plain `node` instead (e.g. packages/cli/dist/bin.js: the
 * shipped code, and a start without tsx's compile step).
 * @example const c = runTsChild('test/faults/child-node.ts', [cfgFile]); await c.waitForLine(/ready/); await c.kill9()
 */
export function runTsChild(
  file: string,
  args: string[] = [],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; plain?: boolean } = {},
): ChildRun {
  const loader = opts.plain ? [] : ['--conditions=source', '--import', 'tsx']
  const child = spawn(process.execPath, [...loader, file, ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = []
  let partial = ''
  const onData = (d: Buffer) => {
    const s = d.toString()
    out += s
    if (out.length > 1_000_000) out = out.slice(-500_000)
    partial += s
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines)
      for (const w of [...waiters])
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  return {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    waitForLine(re, timeoutMs = 20_000) {
      for (const line of out.split('\n')) if (re.test(line)) return Promise.resolve(line)
      return new Promise((resolve, reject) => {
        const w = {
          re,
          resolve: (l: string) => {
            systemClock.clearTimeout(t)
            resolve(l)
          },
        }
        // real time: the other process runs on it
        const t = systemClock.setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1)
          reject(
            new Error(
              `child ${child.pid} printed no line matching ${re} in ${timeoutMs} ms; output:\n${out.slice(-2000)}`,
            ),
          )
        }, timeoutMs)
        waiters.push(w)
        void exited.then(() => {
          if (waiters.includes(w)) {
            systemClock.clearTimeout(t)
            waiters.splice(waiters.indexOf(w), 1)
            reject(new Error(`child exited before printing ${re}; output:\n${out.slice(-2000)}`))
          }
        })
      })
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
    exited,
  }
}
