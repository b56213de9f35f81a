import type { Clock } from '@fogline/protocol'
import pg from 'pg'
import type { Notify } from './pg-insert.js'
import type { StoreChange } from './types.js'

const RELISTEN_MS = 1000

/**
 * Changes other replicas committed on this schema (LISTEN on its channel), never this store's own.
 * When the LISTEN connection drops (database restart) it listens again; changes in between are not replayed.
 * Resolves to the unsubscribe function.
 */
export async function pgWatch(
  url: string,
  n: Notify,
  clock: Clock,
  fn: (c: StoreChange) => void,
): Promise<() => Promise<void>> {
  let stopped = false
  let current: pg.Client | null = null
  const retry = () => {
    if (stopped) return
    const h = clock.setTimeout(() => void listen().catch(retry), RELISTEN_MS)
    ;(h as { unref?: () => void } | null)?.unref?.() // a retry never keeps a process alive
  }
  const listen = async () => {
    const client = new pg.Client({ connectionString: url })
    client.on('error', () => {})
    client.on('notification', (m) => {
      if (m.channel !== n.channel || !m.payload) return
      try {
        const { o, ...change } = JSON.parse(m.payload) as StoreChange & { o: string }
        if (o !== n.origin) fn(change as StoreChange)
      } catch {}
    })
    await client.connect()
    await client.query(`LISTEN ${n.channel}`)
    client.once('end', retry)
    current = client
    if (stopped) await client.end()
  }
  await listen()
  return async () => {
    stopped = true
    await current?.end().catch(() => {})
  }
}
