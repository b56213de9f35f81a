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
 * A fresh folder under the OS temp dir; removed by `remove()`, by `using`, or by the hook given as
 * `removeWith` (pass vitest's `onTestFinished` so it is removed after the parts the test started have
 * stopped, which `using` at the test's end would not wait for).
 * @example const dir = tempDir('fogline-e2e-', onTestFinished); const db = dir.file('outbox.db')
 */
export function tempDir(
  prefix = 'fogline-',
  removeWith?: (remove: () => void) => void,
): TempDir & Disposable {
  const path = mkdtempSync(join(tmpdir(), prefix))
  const remove = () => rmSync(path, { recursive: true, force: true })
  removeWith?.(remove)
  return { path, file: (n) => join(path, n), remove, [Symbol.dispose]: remove }
}

/**
 * Poll `cond` until it returns something truthy, and return that; after `timeoutMs` throw naming `what`
 * (and the last error, when `cond` threw: a throw counts as "not yet", e.g. a store that is not up yet).
 * The one wait helper of the tests; it polls in real time because what it waits for is real I/O (sockets,
 * files, child processes). To wait on fake time, step the fake clock inside `cond`.
 * @example const rows = await waitFor(async () => (await store.count()) === 100 && store.rows(), 'all stored')
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const end = systemClock.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await cond()
      if (v) return v as NonNullable<T>
    } catch (e) {
      last = e
    }
    if (systemClock.now() > end) {
      const why = last === undefined ? '' : ` (last error: ${(last as Error).message ?? String(last)})`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`)
    }
    await sleep(systemClock, everyMs)
  }
}
