/**
 * Process helpers shared by the benches: plain Node children, their output lines, CPU time and RSS from /proc,
 * Mosquitto's pid, a closed port. Linux only (reads /proc).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { cpus, release } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from '@fogline/testkit'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
export const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a')
export const mib = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a')
export const ratio = (a: number, b: number) => (a / b).toFixed(2)
/** which machine a run was on (figures from two machines differ by a third: compare within one run) */
export const machine = () =>
  `${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`

export interface Sample {
  t: number
  n: number
}

export function onLines(child: ChildProcess, fn: (line: string) => void): void {
  let partial = ''
  const on = (d: Buffer) => {
    partial += d.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) fn(l)
  }
  child.stdout?.on('data', on)
  child.stderr?.on('data', on)
}

/** The latest `count` a child printed (with its own clock when the line carries one). */
export function track(child: ChildProcess, re: RegExp): () => Sample {
  let last: Sample = { t: Date.now(), n: 0 }
  onLines(child, (l) => {
    const m = re.exec(l)
    if (m) last = { n: Number(m[1]), t: m[2] ? Number(m[2]) : Date.now() }
  })
  return () => last
}

export interface Plain {
  child: ChildProcess
  pid: number
  line(re: RegExp, ms?: number): Promise<RegExpExecArray>
  output(): string
  /** SIGKILL unless told otherwise (SIGTERM lets the node write its --cpu-prof) */
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** A plain `node` child (no tsx, so its RSS is what the program costs, not a loader thread). */
export function spawnPlain(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env): Plain {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  onLines(child, (l) => {
    out = `${out.slice(-4000)}${l}\n`
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    line: (re, ms = 30_000) =>
      waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`child exited:\n${out}`)
          return re.exec(out)
        },
        `${re} from ${args.join(' ').slice(0, 80)} (output: ${out.slice(-500)})`,
        ms,
      ),
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

let CLK_TCK = 100
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100
} catch {}
/** CPU time (ms) a process has used so far. */
export function cpuMs(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
}
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}
/** open file descriptors of a process */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}
/** bytes a process asked to write (wchar) and bytes it caused to go to the block layer (write_bytes) */
export function ioBytes(pid: number): { wchar: number; writeBytes: number } {
  const s = readFileSync(`/proc/${pid}/io`, 'utf8')
  const get = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? Number.NaN)
  return { wchar: get('wchar'), writeBytes: get('write_bytes') }
}
/** the second half of a series of samples: past the warm-up growth */
export const late = (xs: number[]) => xs.slice(Math.floor(xs.length / 2))
export const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)]! : Number.NaN
}

export function mosquittoPid(): number | undefined {
  try {
    const p = Number(readFileSync('/run/mosquitto/mosquitto.pid', 'utf8').trim())
    if (p > 0 && existsSync(`/proc/${p}`)) return p
  } catch {}
  for (const d of readdirSync('/proc'))
    try {
      if (/^\d+$/.test(d) && readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'mosquitto') return Number(d)
    } catch {}
  return undefined
}

/** A port nobody listens on (bound once with port 0, then closed): the node's uplink has no cloud. */
export async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}
