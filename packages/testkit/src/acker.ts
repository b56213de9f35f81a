import { decodeBatch, downTopic, encodeAck, parseUpTopic, toRanges, UP_FILTER } from '@fogline/protocol'
import Database from 'better-sqlite3'
import { connect, type MqttClient } from 'mqtt'

export interface AckingStore {
  /** seqs stored for (node, stream), ascending */
  seqs(nodeId: string, stream: string): number[]
  bodies(nodeId: string, stream: string): Array<Record<string, unknown>>
  count(): number
  /** batches received, including resends */
  readonly received: { batches: number; records: number; duplicates: number }
  /** stop acking (the store still commits) until resumed */
  holdAcks(hold: boolean): void
  close(): Promise<void>
}

/** The acker's table: (node, stream, seq) unique, so a resend is counted as a duplicate and stored once. */
function openAckDb(path: string, keep: boolean) {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`CREATE TABLE IF NOT EXISTS rec (node TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (node, stream, seq)) WITHOUT ROWID`)
  const ins = db.prepare('INSERT OR IGNORE INTO rec (node, stream, seq, ts, body) VALUES (?, ?, ?, ?, ?)')
  const received = { batches: 0, records: 0, duplicates: 0 }
  const insertAll = db.transaction(
    (node: string, stream: string, recs: Array<{ seq: number; ts: number; body: unknown }>) => {
      for (const r of recs) {
        if (ins.run(node, stream, r.seq, r.ts, keep ? JSON.stringify(r.body) : '').changes === 0)
          received.duplicates++
      }
    },
  )
  return { db, received, insertAll }
}

/** One subscriber on the up topics; resolves once its subscription is granted. */
async function connectAcker(
  u: string,
  protocolVersion: 4 | 5,
  onMessage: (client: MqttClient, topic: string, payload: Buffer) => void,
): Promise<MqttClient> {
  const client: MqttClient = connect(u, {
    clientId: `fogline-test-acker-${Math.random().toString(36).slice(2, 8)}`,
    protocolVersion,
    // mqtt.js owns the reconnect timer (real time)
    reconnectPeriod: 100,
  })
  client.on('connect', () => {
    ;(client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true)
    client.subscribe(UP_FILTER, { qos: 1 })
  })
  client.on('message', (topic, payload) => onMessage(client, topic, payload))
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () =>
      client.subscribe(UP_FILTER, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
    )
    client.once('error', reject)
  })
  return client
}

/**
 * A minimal cloud side for tests and benches: subscribes to every node's up topics, commits each batch to an
 * SQLite table with (node, stream, seq) unique, and only then publishes the ack on down/ack.
 * @example const store = await startAckingStore(broker.url, dir.file('cloud.db'))
 */
export async function startAckingStore(
  url: string | string[],
  path: string,
  /** keepBodies false stores ids only (a faster stand-in cloud for benches) */
  opts: { protocolVersion?: 4 | 5; keepBodies?: boolean } = {},
): Promise<AckingStore & AsyncDisposable> {
  const { db, received, insertAll } = openAckDb(path, opts.keepBodies ?? true)
  let hold = false
  const onMessage = (client: MqttClient, topic: string, payload: Buffer) => {
    const t = parseUpTopic(topic)
    // reported state travels as batches of the outbox's `reported` stream: stored and acked like the rest
    if (!t || t.stream === 'heartbeat') return
    let batch: ReturnType<typeof decodeBatch>
    try {
      batch = decodeBatch(payload, { topic })
    } catch {
      return
    }
    received.batches++
    received.records += batch.records.length
    // commit first, ack after: the ack is the store's promise that the records are durable
    insertAll(t.nodeId, t.stream, batch.records)
    if (hold) return
    const ranges = toRanges(batch.records.map((r) => r.seq))
    const ack = encodeAck({ stream: t.stream, batchId: batch.batchId, ranges })
    client.publish(downTopic(t.nodeId, 'ack'), ack, { qos: 1 })
  }
  const urls = Array.isArray(url) ? url : [url]
  const clients = await Promise.all(urls.map((u) => connectAcker(u, opts.protocolVersion ?? 4, onMessage)))
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= Promise.all(
      clients.map((c) => new Promise<void>((resolve) => c.end(true, () => resolve()))),
    ).then(() => {
      db.close()
    })
    return closed
  }
  return {
    seqs: (node, stream) =>
      db
        .prepare('SELECT seq FROM rec WHERE node = ? AND stream = ? ORDER BY seq')
        .pluck()
        .all(node, stream) as number[],
    bodies: (node, stream) =>
      (
        db
          .prepare('SELECT body FROM rec WHERE node = ? AND stream = ? ORDER BY seq')
          .pluck()
          .all(node, stream) as string[]
      ).map((b) => JSON.parse(b) as Record<string, unknown>),
    count: () => db.prepare('SELECT count(*) FROM rec').pluck().get() as number,
    received,
    holdAcks: (h) => {
      hold = h
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}
