import { accessSync, constants, existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock, ErrorData } from '@fogline/protocol'

/** `/readyz`: ready, or not with every reason as ErrorData. */
export interface Readiness {
  ready: boolean
  reasons: ErrorData[]
}

export interface ReadinessOptions {
  clock: Clock
  /** the folder of outbox.db (the node's dataDir) */
  dataDir: string
  /** the outbox file name in dataDir */
  outboxFile?: string
  /** the last outbox write failure, cleared by the next successful write */
  writeError(): ErrorData | null
  /** pipelines the supervisor quarantined */
  quarantined(): string[]
  /** probe results are reused this long (a scrape storm must not hammer the disk); default 1 s */
  cacheMs?: number
}

/**
 * Readiness of a node: not ready when the outbox cannot be written or a pipeline is quarantined. An offline
 * uplink is normal for a fog node (the outbox holds the results) and never makes it not ready.
 * @example const r = createReadiness({ clock, dataDir, writeError, quarantined }); r.check().reasons
 */
export function createReadiness(o: ReadinessOptions): { check(): Readiness; writable(): ErrorData | null } {
  const file = join(o.dataDir, o.outboxFile ?? 'outbox.db')
  let probedAt = Number.NEGATIVE_INFINITY
  let probe: ErrorData | null = null
  // access(W_OK) refuses even root on an immutable (chattr +i), read-only-mounted or removed folder;
  // the folder must be writable too: SQLite creates its -wal and -shm files there
  const writable = (): ErrorData | null => {
    const now = o.clock.now()
    if (now - probedAt < (o.cacheMs ?? 1000)) return probe
    probedAt = now
    probe = null
    for (const p of [o.dataDir, file]) {
      if (p === file && !existsSync(file)) continue
      try {
        accessSync(p, constants.W_OK)
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        probe = {
          code: 'FOG_OUTBOX_UNWRITABLE',
          message: `the outbox cannot be written: ${p} is not writable (${e.code ?? e.message})`,
          where: { file: p },
        }
        break
      }
    }
    return probe
  }
  return {
    writable,
    check() {
      const reasons: ErrorData[] = []
      const w = writable() ?? o.writeError()
      if (w) reasons.push(w)
      for (const p of o.quarantined())
        reasons.push({
          code: 'FOG_PIPELINE_QUARANTINED',
          message: `pipeline ${p} failed repeatedly and is quarantined; fix it and reload or push a new version`,
          where: { pipeline: p },
        })
      return { ready: reasons.length === 0, reasons }
    },
  }
}
