import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'

/**
 * powercut-fs (test/faults/powercut-fs.py) for the power-cut tests: a FUSE filesystem that keeps every write
 * in its own memory until the program syncs that file. Kill the node, then `cut()`: the backing folder holds
 * only what was synced, as a disk after a power cut. `powerOn` again on the same folders brings the power back.
 * Debian's fuse and python3-fusepy (.ci/install-deps.sh) and /dev/fuse with the right to mount (root here).
 * In CI a missing one fails loudly; elsewhere a suite skips on `fuseMissing` and says why in its name.
 */
const PYTHON = '/usr/bin/python3'
const FS = join(import.meta.dirname, 'powercut-fs.py')
export const fuseMissing = !existsSync('/dev/fuse')
  ? '/dev/fuse'
  : !existsSync('/usr/bin/fusermount')
    ? 'fusermount (Debian fuse)'
    : spawnSync(PYTHON, ['-c', 'import fusepy']).status !== 0
      ? 'python3-fusepy'
      : null
if (process.env.CI && fuseMissing)
  throw new Error(`power-cut tests need ${fuseMissing}: run .ci/install-deps.sh`)

export interface Disk {
  /** the power cut: the filesystem's process dies with every unsynced write, and the mount is detached */
  cut(): Promise<void>
}

/** powercut-fs over `backing`, mounted on `mnt`; resolves once the mount answers */
export async function powerOn(backing: string, mnt: string, expire?: number): Promise<Disk> {
  const args = [FS, backing, mnt, ...(expire === undefined ? [] : ['--expire', String(expire)])]
  const p: ChildProcess = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<void>((r) => p.once('exit', () => r()))
  let out = ''
  // resolves on the filesystem's 'mounted' line (printed by its FUSE init), fails if it exits or takes 10 s
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(deadline)
      reject(new Error(`powercut-fs did not mount ${mnt} (${why}): ${out}`))
    }
    const deadline = setTimeout(() => fail('10 s'), 10_000) // the deadline, not a poll
    const onData = (d: Buffer) => {
      out += d
      if (!out.includes('mounted')) return
      clearTimeout(deadline)
      resolve()
    }
    p.stdout?.on('data', onData)
    p.stderr?.on('data', onData)
    p.once('exit', (code) => fail(`exited ${code}`))
  })
  let down = false
  const cut = async () => {
    if (down) return
    down = true
    p.kill('SIGKILL')
    await exited
    spawnSync('/usr/bin/fusermount', ['-u', '-z', mnt])
  }
  // a mount left behind would stop the temp folder's removal (and every later test's)
  onTestFinished(cut)
  return { cut }
}
