/**
 * A minimal MQTT 3.1.1 subscriber that only counts PUBLISH packets, so that its own parsing (mqtt.js spends
 * several µs on each message) does not cap the broker being measured.
 * Run as a child: subscriber.ts host port filter. Prints `sub ready` after the SUBACK, then `n <count> <ms>`.
 */
import { createConnection } from 'node:net'
import { connectPacket, packet, str16 } from './sensors.js'

export async function runSubscriber(host: string, port: number, filter: string): Promise<void> {
  const sock = createConnection({ host, port, noDelay: true })
  await new Promise((r) => sock.once('connect', r))
  sock.write(connectPacket(`fogbench-sub-${process.pid}`))
  // SUBSCRIBE: fixed header flags 0010 [MQTT-3.8.1-1], packet id 1, the filter at QoS 0
  sock.write(packet(0x82, Buffer.from([0, 1]), str16(filter), Buffer.from([0])))
  let n = 0
  let rest: Buffer = Buffer.alloc(0)
  sock.on('data', (d: Buffer) => {
    const buf = rest.length ? Buffer.concat([rest, d]) : d
    let i = 0
    for (;;) {
      // fixed header: type in the high nibble, then the remaining length (1 to 4 bytes)
      let len = 0
      let mul = 1
      let j = i + 1
      let b = 128
      while (b & 128 && j < buf.length) {
        b = buf[j++]!
        len += (b & 127) * mul
        mul *= 128
      }
      if (b & 128 || j + len > buf.length) break
      const type = buf[i]! >> 4
      if (type === 3) n++
      else if (type === 9) console.log('sub ready') // SUBACK
      i = j + len
    }
    rest = buf.subarray(i)
  })
  sock.on('close', () => process.exit(1))
  setInterval(() => console.log(`n ${n} ${Date.now()}`), 250)
}

if (process.argv[1]?.endsWith('subscriber.ts')) {
  const [host, port, filter] = process.argv.slice(2)
  await runSubscriber(host!, Number(port), filter!)
}
