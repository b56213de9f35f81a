import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep, systemClock } from '@fogline/protocol'

export interface TempDir {
  path: string
  /** a path inside the folder */
  file(name: string): string
  remove(): void
}

/**
 * A fresh folder under the OS temp dir; removed by `remove()` or `using`.
 * @example using dir = tempDir(); const db = dir.file('outbox.db')
 */
export function tempDir(prefix = 'fogline-'): TempDir & Disposable {
  const path = mkdtempSync(join(tmpdir(), prefix))
  const remove = () => rmSync(path, { recursive: true, force: true })
  return { path, file: (n) => join(path, n), remove, [Symbol.dispose]: remove }
}

/**
 * Poll `cond` until it is truthy or `timeoutMs` passes (then throws with `what`). The one wait helper of
 * the tests; it polls in real time because what it waits for is real I/O (sockets, files, child processes).
 * @example await waitFor(() => store.count() === 100, 'all 100 records stored')
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const end = systemClock.now() + timeoutMs
  for (;;) {
    const v = await cond()
    if (v) return v as NonNullable<T>
    if (systemClock.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(systemClock, everyMs)
  }
}
