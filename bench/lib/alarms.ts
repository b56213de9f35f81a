/**
 * Alarm readings, like a sensor that crosses its limit: `sensors` alarm sensors (ids a000…) on `conns`
 * connections (TCP_NODELAY, one PUBLISH per write, QoS 0 or FOGLINE_BENCH_ALARM_QOS=1), `perSec` readings per
 * second in all, each sensor
 * alternating above and below the pipeline's limit, so every reading makes one threshold event
 * (`enter`, then `leave`) stamped with the reading's ts (the publisher's Date.now() at the write).
 * With a second broker given (`hopPort` > 0), the same reading also goes to it at the same moment and a
 * subscriber there times its arrival: one plain broker hop, the floor for any path to the cloud.
 * Run as a child: alarms.ts host port prefix conns sensors perSec seconds [hopHost hopPort].
 * Prints `alarm <sensorId> <ts>` per reading sent, `hop <ms>` per reading through the hop broker.
 */
import { ALARM_ABOVE } from './pipeline.js'
import { openRaw, packet, str16 } from './sensors.js'

/** the alarm readings' QoS: 1 goes through the node's ingest journal (PUBACK after its commit) */
const QOS1 = process.env['FOGLINE_BENCH_ALARM_QOS'] === '1'

/** QoS 0 PUBLISH [MQTT-3.3.1]; with a packet id, QoS 1 [MQTT-3.3.2-2] (its PUBACK is not waited for) */
function publish(topic: string, body: string, packetId = 0): Buffer {
  if (packetId === 0) return packet(0x30, str16(topic), Buffer.from(body))
  return packet(0x32, str16(topic), Buffer.from([packetId >> 8, packetId & 0xff]), Buffer.from(body))
}

/** a subscriber on the hop broker: the time each reading (by its `n`) arrived */
async function hopSubscriber(host: string, port: number, filter: string, sentAt: Map<number, number>) {
  const sock = await openRaw(host, port, `fogbench-hop-${process.pid}`)
  sock.write(packet(0x82, Buffer.from([0, 1]), str16(filter), Buffer.from([0])))
  sock.on('data', (d: Buffer) => {
    // the payloads carry "n":<k>; a chunk may hold several PUBLISHes, each is matched by its number
    const now = performance.now()
    for (const m of d.toString('latin1').matchAll(/"n":(\d+)/g)) {
      const t0 = sentAt.get(Number(m[1]))
      if (t0 !== undefined) console.log(`hop ${(now - t0).toFixed(3)}`)
      sentAt.delete(Number(m[1]))
    }
  })
  await new Promise((r) => setTimeout(r, 300))
}

export async function runAlarms(argv: string[]): Promise<void> {
  const [host, port, prefix, conns, sensors, perSec, seconds, hopHost, hopPort] = argv
  const nConns = Number(conns)
  const socks = await Promise.all(
    Array.from({ length: nConns }, (_, i) =>
      openRaw(host!, Number(port), `${prefix}-alarm${i}-${process.pid}`),
    ),
  )
  const hop = Number(hopPort ?? 0) > 0
  const sentAt = new Map<number, number>()
  const hopSocks = hop
    ? await Promise.all(
        Array.from({ length: nConns }, (_, i) =>
          openRaw(hopHost!, Number(hopPort), `${prefix}-hop${i}-${process.pid}`),
        ),
      )
    : []
  if (hop) await hopSubscriber(hopHost!, Number(hopPort), `${prefix}/hop/#`, sentAt)
  console.log('connected')
  const high = new Array<boolean>(Number(sensors)).fill(false)
  let n = 0
  const every = 1000 / Number(perSec)
  const t0 = performance.now()
  setTimeout(() => process.exit(0), Number(seconds) * 1000)
  setInterval(() => {
    // catch up on late ticks, so the offered rate holds when the timer lags
    while (n < (performance.now() - t0) / every) {
      const k = n % high.length
      high[k] = !high[k]
      const id = `a${String(k).padStart(3, '0')}`
      const ts = Date.now()
      const value = high[k] ? ALARM_ABOVE + 20 : 25
      const c = n % nConns
      const pid = QOS1 ? (n % 65535) + 1 : 0
      socks[c]!.write(publish(`${prefix}/sensors/${id}/temperature`, `{"value":${value},"ts":${ts}}`, pid))
      if (hop) {
        sentAt.set(n, performance.now())
        hopSocks[c]!.write(publish(`${prefix}/hop/${id}`, `{"value":${value},"ts":${ts},"n":${n}}`))
      }
      console.log(`alarm ${id} ${ts}`)
      n++
    }
  }, 5)
}

if (process.argv[1]?.endsWith('alarms.ts')) await runAlarms(process.argv.slice(2))
