import { createServer, type Server } from 'node:http'
import {
  type Clock,
  type CloudConfig,
  type ErrorData,
  isFoglineError,
  sleep,
  toErrorData,
} from '@fogline/protocol'
import type { Logger } from 'pino'
import type { Readiness } from './shared/index.js'
import { openStore, type Store } from './store/index.js'

/** Backoff between attempts to open the store: doubling from MIN to MAX, each wait jittered down to half. */
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 10_000

/** The store, and the port the not-ready probe held (the API takes it over, so a port 0 stays the same). */
export interface OpenedStore {
  store: Store
  port: number | null
}

/**
 * Open the cloud's store; while it cannot be opened (PostgreSQL down or refusing, a locked file), retry with
 * backoff on the injected clock and answer on the HTTP port: /healthz 200 and /readyz 503 with the reason.
 * An orchestrator then sees a replica that is alive but not ready, instead of one that exits and restarts.
 * A config error is not retried. `attempts` bounds the tries (default: until it opens).
 */
export async function openStoreRetrying(
  config: CloudConfig,
  clock: Clock,
  logger: Logger,
  attempts = Number.POSITIVE_INFINITY,
): Promise<OpenedStore> {
  let probe: Server | null = null
  let reason: ErrorData | null = null
  try {
    for (let i = 1; ; i++) {
      try {
        const store = await openStore(config.store, clock)
        if (i > 1) logger.info({ attempts: i }, 'store opened; the aggregator goes on starting')
        return { store, port: probe ? await closeProbe(probe) : null }
      } catch (err) {
        if (isFoglineError(err) && err.code === 'FOG_CONFIG_INVALID') throw err
        if (i >= attempts) throw err
        reason = { ...toErrorData(err), code: 'FOG_STORE_UNAVAILABLE' }
        probe ??= await startProbe(config.http, () => reason)
        const readyz = `http://${config.http.host}:${(probe.address() as { port: number }).port}/readyz`
        logger.warn(
          { err: reason, attempt: i, readyz },
          'cannot open the store; retrying, not ready meanwhile',
        )
        const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(i - 1, 10))
        await sleep(clock, wait * (0.5 + Math.random() / 2))
      }
    }
  } catch (err) {
    if (probe) await closeProbe(probe)
    throw err
  }
}

/** A bare HTTP server on the API's address until the API can start: alive, not ready, and why. */
async function startProbe(
  listen: { host: string; port: number },
  why: () => ErrorData | null,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    const alive = path === '/healthz'
    res.writeHead(alive ? 200 : 503, { 'content-type': 'application/json' })
    const reasons = [why() ?? { code: 'FOG_NOT_READY', message: 'starting', where: {} }]
    res.end(JSON.stringify(alive ? { ok: true } : { ready: false, reasons, schemaVersion: null }))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, listen.host, () => resolve())
  })
  return server
}

async function closeProbe(server: Server): Promise<number> {
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Readiness follows the store: its schema version, and not ready while a round trip to it fails. */
export function watchStore(readiness: Readiness, store: Store): void {
  readiness.schemaVersion = store.migration.to
  readiness.add(() =>
    store.ping().then(
      () => null,
      (err): ErrorData => ({ code: 'FOG_STORE_UNAVAILABLE', message: (err as Error).message, where: {} }),
    ),
  )
}
