/**
 * A minimal fog node for the kill -9 test: the real outbox and uplink, with a producer standing in for the
 * pipeline. Prints `ready ...`, then `committed <stream> <seq>` after each append resolves, and `drained`
 * when the outbox is empty in drain mode.
 * Usage: node --conditions=source --import tsx test/faults/child-node.ts <dir> <cloudUrl> <ingest|drain>
 */
import { join } from 'node:path'
import { openSqliteOutbox } from '@fogline/outbox'
import { UplinkConfig } from '@fogline/protocol'
import { createUplink } from '@fogline/uplink'

const [dir, url, mode] = process.argv.slice(2)
if (!dir || !url || (mode !== 'ingest' && mode !== 'drain')) {
  process.stderr.write('usage: child-node.ts <dir> <cloudUrl> <ingest|drain>\n')
  process.exit(2)
}
const outbox = await openSqliteOutbox({ path: join(dir, 'outbox.db'), config: { commitInterval: 3 } })
const uplink = createUplink({
  nodeId: 'kill9',
  group: 'g1',
  outbox,
  config: UplinkConfig.parse({
    urls: [url],
    linger: 2,
    pollInterval: 20,
    ackTimeout: 500,
    reconnect: { min: 20, max: 200 },
    batchMaxRecords: 100,
    maxInFlight: 4,
  }),
})
uplink.start()
const s = outbox.stats()
process.stdout.write(
  `ready pid=${process.pid} quarantined=${outbox.quarantined ? 'yes' : 'no'} records=${s.records} summary=${outbox.lastSeq('summary')}\n`,
)
let n = 0
if (mode === 'ingest') {
  const tick = () => {
    const items = []
    const sensorId = `p${process.pid}`
    for (let k = 0; k < 3; k++, n++)
      items.push({
        stream: 'summary' as const,
        ts: Date.now(),
        body: {
          pipelineId: 'k9',
          sensorId,
          metric: 'm',
          start: n,
          end: n + 1,
          count: 1,
          min: n,
          max: n,
          mean: n,
          sum: n,
        },
      })
    for (let k = 0; k < 10; k++)
      items.push({ stream: 'raw' as const, ts: Date.now(), body: { pid: process.pid, n: n++ } })
    if (n % 5 === 0)
      items.push({
        stream: 'event' as const,
        ts: Date.now(),
        body: {
          pipelineId: 'k9',
          sensorId,
          metric: 'm',
          ts: Date.now(),
          kind: 'info',
          name: 'tick',
          value: n++,
        },
      })
    void outbox.append(items).then((r) => {
      const last: Record<string, number> = {}
      for (const x of r) last[x.stream] = x.seq
      process.stdout.write(
        `${Object.entries(last)
          .map(([st, q]) => `committed ${st} ${q}`)
          .join('\n')}\n`,
      )
    })
  }
  setInterval(tick, 4)
} else {
  setInterval(() => {
    if (outbox.stats().records === 0) process.stdout.write('drained\n')
  }, 50)
}
