import {
  type Clock,
  type CronWindow,
  type DesiredReport,
  decodeMessage,
  desiredApplies,
  parseDownTopic,
} from '@fogline/protocol'
import { NodeKeys } from '../desired/keys.js'
import { compileCron, createWindowGate, cronTrigger } from './windows.js'

/** Key of the held document in the outbox's state KV (survives restarts). */
export const MAINTENANCE_STATE_KEY = 'maintenance.pending'

interface Held {
  topic: string
  /** the down message as received, base64 */
  payload: string
  version: number
  sig: string
  receivedAt: number
}

export interface MaintenanceHoldOptions {
  clock: Clock
  /** ops.maintenance; empty: every document goes through at once */
  windows: readonly CronWindow[]
  nodeId: string
  group: string
  /** config desiredKeys; a rotation the agent persisted is read from `state` */
  keys: readonly unknown[] | undefined
  state: { get(key: string): unknown; put(key: string, v: unknown): Promise<void> }
  /** append a report to the durable `reported` stream */
  report(body: DesiredReport): void
  /** the desired-state agent's handle: verifies again, applies, reports applied or rejected */
  deliver(topic: string, payload: Buffer): Promise<void>
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void }
  /** a real-time trigger checks when a window opens; false in tests (the clock interval drives them) */
  cronTriggers?: boolean
  /** safety net on the injected clock; default 60 s */
  checkEvery?: number
}

// the document a down message carries, when it verifies and is for this node; null otherwise
function verified(o: MaintenanceHoldOptions, topic: string, payload: Buffer) {
  const t = parseDownTopic(topic)
  if (t?.kind !== 'desired' || payload.length === 0 || !o.keys?.length) return null
  try {
    const env = (
      payload[0] === 0x7b ? JSON.parse(payload.toString('utf8')) : decodeMessage(payload, { topic })
    ) as {
      sig?: unknown
    }
    // the agent's key set as it stands (configured, or rotated and persisted): the same trust as the agent's
    const doc = new NodeKeys(
      o.keys,
      (k) => o.state.get(k),
      async () => {},
    ).verify(env, o.clock.now()).doc
    if (!desiredApplies(doc, o.nodeId, o.group)) return null
    return { doc, sig: String(env.sig) }
  } catch {
    return null
  }
}

/**
 * Maintenance windows in front of the desired-state agent. A document is verified on arrival (signature,
 * target); outside the window one that is not `urgent` is held (persisted) and reported `pending` with
 * the time the window opens, then handed to the agent once the window is open. A document that does not
 * verify goes straight to the agent, which rejects and reports it. Lifecycle: create → handle* / check* → close.
 * @example const hold = createMaintenanceHold({ ..., deliver: (t, p) => agent.handle(t, p) }); uplink onDown = hold.handle
 */
export function createMaintenanceHold(o: MaintenanceHoldOptions) {
  const gate = createWindowGate(o.clock, o.windows)
  const always = o.windows.length === 0
  let held = (o.state.get(MAINTENANCE_STATE_KEY) as Held | null | undefined) ?? null
  let chain: Promise<void> = Promise.resolve()
  const serial = (fn: () => Promise<void>) => (chain = chain.then(fn, fn))

  async function arrive(topic: string, payload: Buffer): Promise<void> {
    const v = always ? null : verified(o, topic, payload)
    if (!v || v.doc.urgent || gate.isOpen()) return o.deliver(topic, payload)
    // the retained copy again (reconnect): already held and reported
    if (held?.sig === v.sig) return
    if (held && held.version > v.doc.version && !v.doc.rollback) return o.deliver(topic, payload)
    const pendingUntil = gate.state().until
    held = {
      topic,
      payload: payload.toString('base64'),
      version: v.doc.version,
      sig: v.sig,
      receivedAt: o.clock.now(),
    }
    await o.state.put(MAINTENANCE_STATE_KEY, held)
    o.log?.info(
      { version: v.doc.version, pendingUntil: new Date(pendingUntil).toISOString() },
      'desired state pending: waits for the maintenance window',
    )
    o.report({
      version: v.doc.version,
      status: 'pending',
      pendingUntil,
      target: v.doc.target,
      ts: o.clock.now(),
    })
  }

  async function release(): Promise<void> {
    if (!held || !gate.isOpen()) return
    const h = held
    held = null
    await o.state.put(MAINTENANCE_STATE_KEY, null)
    o.log?.info({ version: h.version }, 'maintenance window open: applying the pending desired state')
    await o.deliver(h.topic, Buffer.from(h.payload, 'base64'))
  }

  const triggers =
    o.cronTriggers === false || always
      ? []
      : // a real-time timer at each window's opening: it only triggers check(), which reads the injected clock
        o.windows.map((w) => {
          const c = compileCron(w.cron, w.timezone)
          const t = cronTrigger(c, () => void check())
          return {
            stop() {
              t.stop()
              c.close()
            },
          }
        })
  const timer = o.clock.setInterval(() => void check(), o.checkEvery ?? 60_000)
  ;(timer as { unref?: () => void } | null)?.unref?.()
  const check = () => serial(release)

  return {
    /** route every down message here (instead of straight to the agent) */
    handle: (topic: string, payload: Buffer) => serial(() => arrive(topic, payload)),
    /** apply a held document if the window is open now (also every checkEvery and when a window opens) */
    check,
    status: () => ({
      open: always || gate.isOpen(),
      pending: held ? { version: held.version, pendingUntil: gate.state().until } : null,
    }),
    close(): void {
      o.clock.clearInterval(timer)
      for (const t of triggers) t.stop()
      gate.close()
    },
  }
}

export type MaintenanceHold = ReturnType<typeof createMaintenanceHold>
