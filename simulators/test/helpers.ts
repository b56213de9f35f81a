import type { Socket } from 'node:net'
import type { Clock } from '@fogline/protocol'
import mqtt from 'mqtt'

export interface Received {
  topic: string
  payload: Buffer
  at: number
}

/** A real mqtt.js subscriber on `sensors/#` recording every message. */
export async function subscribeAll(url: string, filter = 'sensors/#') {
  const client = await mqtt.connectAsync(url, { clientId: `sim-test-${Math.random().toString(16).slice(2)}` })
  ;(client.stream as unknown as Socket).setNoDelay?.(true)
  const got: Received[] = []
  client.on('message', (topic, payload) => got.push({ topic, payload, at: Date.now() }))
  await client.subscribeAsync(filter, { qos: 0 })
  return { got, close: () => client.endAsync() }
}

/** Poll a condition with a deadline (real I/O cannot be driven by a fake clock). */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met before the deadline')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A manual clock: time moves only when the test says so. */
export function manualClock(start = 1_700_000_000_000) {
  let now = start
  let timers: Array<{ at: number; fn: () => void; id: number }> = []
  let ids = 0
  const clock: Clock & { advance(ms: number, step?: number): Promise<void> } = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++ids
      timers.push({ at: now + ms, fn, id })
      return id
    },
    clearTimeout(h) {
      timers = timers.filter((t) => t.id !== h)
    },
    /** move time in steps, letting socket I/O run between steps as it would in real time */
    async advance(ms, step = 10) {
      const end = now + ms
      while (now < end) {
        await new Promise((r) => setImmediate(r))
        now = Math.min(end, now + step)
        const due = timers.filter((t) => t.at <= now)
        timers = timers.filter((t) => t.at > now)
        for (const t of due) t.fn()
      }
    },
  }
  return clock
}

export function parseReading(p: Buffer): { value: number; ts: number; lat?: number; lon?: number } | null {
  try {
    const v = JSON.parse(p.toString('utf8')) as { value?: unknown; ts?: unknown }
    if (typeof v.value !== 'number' || typeof v.ts !== 'number' || p.length > 4096) return null
    return v as { value: number; ts: number }
  } catch {
    return null
  }
}
