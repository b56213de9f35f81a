import type { Logger } from 'pino'
import type { Fleet } from '../fleet/index.js'
import type { CloudBus } from '../shared/index.js'
import type { Store } from '../store/index.js'

/**
 * Replicas on one PostgreSQL: rows and fleet changes another replica committed reach this one's live streams.
 * Resolves to the unsubscribe function (a no-op for stores without `watch`).
 */
export async function followReplicas(d: {
  store: Store
  bus: CloudBus
  fleet: Fleet
  logger: Logger
}): Promise<() => Promise<void>> {
  const { store, bus, fleet, logger } = d
  if (!store.watch) return async () => {}
  return store.watch((c) => {
    const done =
      c.kind === 'node'
        ? fleet.touched(c.nodeId)
        : store.recordsBySeq(c.nodeId, c.stream, c.ranges).then((rows) => {
            for (const r of rows) r.stream === 'summary' ? bus.emit('summary', r) : bus.emit('event', r)
          })
    done.catch((err) =>
      logger.warn({ err: (err as Error).message }, 'live change from another replica not forwarded'),
    )
  })
}
