import { type Outbox, openSqliteOutbox } from '@fogline/outbox'
import { UplinkConfig, type UplinkConfigInput } from '@fogline/protocol'
import { startAckingStore, startTestBroker, type TempDir, tempDir } from '@fogline/testkit'
import { onTestFinished } from 'vitest'
import { createUplink, type Uplink } from '../src/index.js'

export function dir(): TempDir {
  const d = tempDir()
  onTestFinished(() => d.remove())
  return d
}

/** An aedes broker on port 0, closed when the test ends. */
export async function testBroker() {
  const broker = await startTestBroker()
  onTestFinished(() => broker.close())
  return broker
}

/** The cloud side: a broker on port 0 and an acking store at `d/cloud.db`, both closed when the test ends. */
export async function ackingCloud(d: TempDir) {
  const broker = await testBroker()
  const store = await startAckingStore(broker.url, d.file('cloud.db'))
  onTestFinished(() => store.close())
  return { broker, store }
}

export async function outboxIn(d: TempDir, name = 'outbox.db', config = {}): Promise<Outbox> {
  const ob = await openSqliteOutbox({ path: d.file(name), config: { commitInterval: 2, ...config } })
  onTestFinished(() => ob.close())
  return ob
}

export function uplinkFor(
  outbox: Outbox,
  config: UplinkConfigInput,
  extra: { nodeId?: string; heartbeat?: () => object; onDown?: (t: string, p: Buffer) => void } = {},
): Uplink {
  const up = createUplink({
    nodeId: extra.nodeId ?? 'n1',
    group: 'g1',
    outbox,
    config: UplinkConfig.parse({ linger: 5, pollInterval: 50, heartbeat: 200, ...config }),
    ...(extra.heartbeat ? { heartbeat: extra.heartbeat } : {}),
    ...(extra.onDown ? { onDown: extra.onDown } : {}),
  })
  onTestFinished(() => up.stop())
  return up
}

export function summary(i: number, sensor = 's1'): Record<string, unknown> {
  return {
    pipelineId: 'p1',
    sensorId: sensor,
    metric: 'temp',
    start: i * 60_000,
    end: (i + 1) * 60_000,
    count: 10,
    min: i,
    max: i + 5,
    sum: 10 * (i + 2.5),
    mean: i + 2.5,
  }
}

/** `n` summary records for `append`, seq order = i order, ts i */
export const summaries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ stream: 'summary' as const, ts: i, body: summary(i) }))
