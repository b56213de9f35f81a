import { createRequire } from 'node:module'
import { connect, Socket } from 'node:net'
import type { Clock } from '@fogline/protocol'
import { waitFor } from '@fogline/testkit'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type Broker, startBroker } from '../src/index.js'
import { TokenBucket } from '../src/limits.js'
import { Session } from '../src/session.js'
import { closeOnClose, closesClientToo, InflightIds } from '../src/slim.js'

const aedesRequire = createRequire(createRequire(import.meta.url).resolve('aedes'))
const { generate } = aedesRequire('mqtt-packet') as { generate(p: object): Buffer }

const connectPacket = (clientId: string, extra: object = {}) =>
  generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean: true,
    keepalive: 0,
    ...extra,
  })

interface AedesClient {
  id: string
  closed: boolean
  conn: Socket
  subscriptions: Record<string, unknown>
  duplicates: Record<string, unknown>
  _parser: { settings: Record<string, unknown>; listenerCount(e: string): number }
  listenerCount(e: string): number
}

/** the aedes client of every connection the broker hands to aedes, in order */
function clientsOf(b: Broker): AedesClient[] {
  const a = b.aedes as unknown as { handle: (...args: unknown[]) => AedesClient }
  const handle = a.handle
  const all: AedesClient[] = []
  a.handle = (...args) => {
    const c = handle(...args)
    all.push(c)
    return c
  }
  return all
}

async function raw(port: number): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', noDelay: true })
  onTestFinished(() => void s.destroy())
  await new Promise((r) => s.once('connect', r))
  s.on('error', () => {})
  return s
}

/** a raw connection that sent CONNECT and got its CONNACK */
async function connected(port: number, id: string, extra?: object): Promise<Socket> {
  const s = await raw(port)
  s.write(connectPacket(id, extra))
  await new Promise((r) => s.once('data', r))
  return s
}

describe("per-connection memory: aedes' per-client objects slimmed (slim.ts)", () => {
  it('a connected client keeps one listener per need on its socket and parser, and no CONNECT packet', async () => {
    const b = await startBroker({ port: 0, users: { u: 'secret-pw' } })
    onTestFinished(() => b.close())
    const clients = clientsOf(b)
    await connected(b.port, 'c1', { username: 'u', password: Buffer.from('secret-pw') })
    await connected(b.port, 'c2', { username: 'u', password: Buffer.from('secret-pw') })
    const [c1, c2] = clients as [AedesClient, AedesClient]
    // aedes emits 'connected' once its connect series is done, a little after the CONNACK
    await waitFor(
      () => clients.length === 2 && clients.every((c) => c._parser.settings['clientId'] === undefined),
      'both connected',
    )
    // 'end': Node's own and aedes' close; 'close': one listener for the broker's socket set and the client's
    // close (two would make Node keep an array); 'error': aedes'
    expect(c1.conn.listenerCount('end')).toBe(2)
    expect(c1.conn.listenerCount('close')).toBe(1)
    expect(c1.conn.listenerCount('error')).toBe(1)
    expect(c1.conn.listenerCount('finish')).toBe(0)
    expect(c1._parser.listenerCount('error')).toBe(1)
    expect(c1._parser.listenerCount('packet')).toBe(1)
    expect((c1 as unknown as { eventNames(): unknown[] }).eventNames()).toEqual(['error'])
    // the parser reads only the protocol version (and bridge mode) after CONNECT; the password is not kept
    expect(c1._parser.settings).toEqual({ protocolVersion: 4, bridgeMode: false })
    expect(c1._parser.settings).toBe(c2._parser.settings)
    // mqtt-packet's parser state names: one array for every parser (fast.ts)
    const states = (c: AedesClient) => (c._parser as unknown as { _states: string[] })._states
    expect(states(c1)).toEqual(['_parseHeader', '_parseLength', '_parsePayload', '_newPacket'])
    expect(states(c1)).toBe(states(c2))
    // wire-keyed maps still read inherited names as absent (GHSA-52qw-whmv-87c5)
    for (const m of [c1.subscriptions, c1.duplicates]) {
      for (const k of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) expect(m[k]).toBeUndefined()
      expect(Object.keys(m)).toEqual([])
    }
  })

  it("the broker's shared 'close' listener and the client's close become one listener that does both", () => {
    const sock = new Socket()
    const untracked: unknown[] = []
    const untrack = function (this: Socket) {
      untracked.push(this)
    }
    closesClientToo(untrack)
    sock.on('close', untrack)
    let closed = 0
    const client = { conn: sock, _eos: () => {}, close: () => void closed++ }
    ;(sock as unknown as { client: unknown }).client = client
    closeOnClose(client as never, sock)
    expect(sock.listenerCount('close')).toBe(1)
    sock.emit('close', false)
    expect(untracked).toEqual([sock])
    expect(closed).toBe(1)
    // a listener without a companion: the client's own close listener next to it, taken off by aedes' close()
    const other = new Socket()
    other.on('close', () => {})
    const c2 = { conn: other, _eos: () => {}, close: () => void closed++ }
    ;(other as unknown as { client: unknown }).client = c2
    closeOnClose(c2 as never, other)
    expect(other.listenerCount('close')).toBe(2)
    c2._eos()
    expect(other.listenerCount('close')).toBe(1)
  })

  it('a socket closed before CONNECT closes its aedes client (aedes watched that with finished())', async () => {
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const clients = clientsOf(b)
    await raw(b.port)
    const peer = await raw(b.port)
    await waitFor(() => clients.length === 2, 'handed to aedes')
    // destroyed on the broker's side (as the connect timeout does): no 'end', no 'error', only 'close'
    clients[0]!.conn.destroy()
    await waitFor(() => clients[0]!.closed, 'the client closed')
    // closed by the peer
    peer.destroy()
    await waitFor(() => clients[1]!.closed, 'the other client closed')
  })

  it('after CONNECT: a peer FIN, a reset, a broker-side destroy and a malformed packet each close the client and publish its will', async () => {
    const wills: string[] = []
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const clients = clientsOf(b)
    const sub = await mqtt.connectAsync(b.url, { clientId: 'watcher' })
    onTestFinished(() => sub.endAsync())
    sub.on('message', (t) => wills.push(t))
    await sub.subscribeAsync('will/#')
    const will = (id: string) => ({
      will: { topic: `will/${id}`, payload: Buffer.from('gone'), qos: 0, retain: false },
    })
    const fin = await connected(b.port, 'fin', will('fin'))
    const reset = await connected(b.port, 'reset', will('reset'))
    const destroyed = await connected(b.port, 'destroyed', will('destroyed'))
    const garbage = await connected(b.port, 'garbage', will('garbage'))
    await waitFor(() => b.clients() === 5, 'five clients')
    fin.end()
    reset.resetAndDestroy()
    clients.find((c) => c.id === 'destroyed')!.conn.destroy()
    // a reserved packet type: the parser's 'error', the client's 'error', then aedes closes the connection
    garbage.write(Buffer.from([0xf0, 0x00]))
    await waitFor(() => wills.length === 4, 'four wills')
    expect(wills.sort()).toEqual(['will/destroyed', 'will/fin', 'will/garbage', 'will/reset'])
    await waitFor(() => b.clients() === 1, 'only the watcher left')
    expect(clients.filter((c) => c.id !== 'watcher').every((c) => c.closed)).toBe(true)
    await new Promise((r) => (destroyed.destroyed ? r(0) : destroyed.once('close', r)))
  })

  it('subscriptions, including to wire names like "constructor", still deliver and unsubscribe', async () => {
    const b = await startBroker({ port: 0 })
    onTestFinished(() => b.close())
    const sub = await mqtt.connectAsync(b.url, { clientId: 'sub' })
    onTestFinished(() => sub.endAsync())
    const got: string[] = []
    sub.on('message', (t) => got.push(t))
    await sub.subscribeAsync(['constructor', '__proto__', 'a/#'])
    const pub = await mqtt.connectAsync(b.url, { clientId: 'pub' })
    onTestFinished(() => pub.endAsync())
    for (const t of ['constructor', '__proto__', 'a/b']) await pub.publishAsync(t, 'x', { qos: 1 })
    await waitFor(() => got.length === 3, 'three delivered')
    await sub.unsubscribeAsync(['constructor', 'a/#'])
    for (const t of ['constructor', '__proto__', 'a/b']) await pub.publishAsync(t, 'y', { qos: 1 })
    await waitFor(() => got.length === 4, 'one more delivered')
    expect(got).toEqual(['constructor', '__proto__', 'a/b', '__proto__'])
  })

  it('InflightIds answers like the Set aedes made (has, size, add, delete)', () => {
    const ids = new InflightIds()
    const set = new Set<number>()
    for (const [op, id] of [
      ['has', 1],
      ['delete', 1],
      ['add', 1],
      ['add', 2],
      ['add', 1],
      ['has', 1],
      ['delete', 1],
      ['delete', 1],
      ['has', 2],
    ] as const) {
      const a = op === 'add' ? ids.add(id) === ids : ids[op](id)
      const e = op === 'add' ? set.add(id) === set : set[op](id)
      expect([op, id, a, ids.size]).toEqual([op, id, e, set.size])
    }
  })

  it("a session's two rate limits answer exactly as two TokenBuckets would, on the same clock", () => {
    let t = 1_700_000_000_123
    const clock = { now: () => t } as Clock
    let seed = 7
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (const [msgs, bytes] of [
      [50, 4096],
      [3, 0],
      [0, 100],
      [0, 0],
    ] as const) {
      const s = new Session('u', { msgs, bytes, clock })
      const m = msgs > 0 ? new TokenBucket(msgs, clock) : undefined
      const b = bytes > 0 ? new TokenBucket(bytes, clock) : undefined
      for (let i = 0; i < 2000; i++) {
        t += Math.floor(rnd() * (rnd() < 0.1 ? 3000 : 40))
        const n = Math.floor(rnd() * 300)
        expect([s.takeMsgs(1), s.takeBytes(n)]).toEqual([m?.take(1) ?? 0, b?.take(n) ?? 0])
      }
    }
  })

  it("the peer's address still reaches the login log and the refusal log, and the socket still answers it", async () => {
    const lines: object[] = []
    const log = { warn: (o: object) => lines.push(o), info() {}, debug: (o: object) => lines.push(o) }
    const b = await startBroker({ port: 0, users: { u: 'pw' }, log })
    onTestFinished(() => b.close())
    const clients = clientsOf(b)
    const ok = await connected(b.port, 'ok', { username: 'u', password: Buffer.from('pw') })
    const bad = await connected(b.port, 'bad', { username: 'u', password: Buffer.from('wrong') })
    const at = (s: Socket) => `127.0.0.1:${s.localPort}`
    expect(lines).toContainEqual(expect.objectContaining({ clientId: 'ok', remote: at(ok) }))
    expect(lines).toContainEqual(expect.objectContaining({ clientId: 'bad', remote: at(bad) }))
    expect(clients[0]!.conn.remotePort).toBe(ok.localPort)
  })
})
