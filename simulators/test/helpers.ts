import type { Socket } from 'node:net'
import { startTestBroker, tempDir } from '@fogline/testkit'
import mqtt from 'mqtt'
import { onTestFinished } from 'vitest'

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

/** A test broker, a subscriber recording `sensors/#` on it and a temp folder, all gone when the test ends. */
export async function brokerWithSubscriber() {
  const broker = await startTestBroker()
  onTestFinished(() => broker.close())
  const sub = await subscribeAll(broker.url)
  onTestFinished(() => sub.close())
  const dir = tempDir('fogline-sim-', onTestFinished).path
  return { broker, sub, dir }
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
