import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { type Clock, systemClock } from '@fogline/protocol'

export type ProxyMode = 'pass' | 'cut' | 'blackhole'

export interface ProxyShape {
  /** extra one-way latency per direction, ms */
  delayMs?: number
  /** bandwidth cap per direction and connection, bytes per second */
  bytesPerSec?: number
}

/**
 * A TCP proxy in front of a server that a test controls: pass, cut (RST), blackhole (accept, forward
 * nothing), delay, throttle, and close after N bytes. Lifecycle: start → (mode changes) → close.
 * A blackholed connection loses the bytes sent meanwhile, so it is reset when the blackhole ends
 * (a real TCP link would have timed out by then).
 * @example const p = await startFaultProxy(broker.port); p.cut(); p.pass(); p.shape({ delayMs: 50 })
 */
export interface FaultProxy {
  readonly port: number
  /** mqtt://127.0.0.1:port */
  readonly url: string
  readonly mode: ProxyMode
  pass(): void
  /** reset every open connection (TCP RST) and every new one until the mode changes */
  cut(): void
  /** accept and keep connections, forward nothing in either direction */
  blackhole(): void
  /** add latency and/or a bandwidth cap (pass mode); `shape({})` removes them */
  shape(s: ProxyShape): void
  /** close each connection after it has carried `bytes` more bytes (both directions); null to stop */
  closeAfter(bytes: number | null): void
  /** point the proxy at another upstream port (new connections only) */
  retarget(port: number, host?: string): void
  connections(): number
  /** bytes carried each way, bytes swallowed by a blackhole, connections accepted and reset */
  readonly stats: { accepted: number; bytesUp: number; bytesDown: number; blackholed: number; resets: number }
  close(): Promise<void>
}

interface Pipe {
  client: Socket
  upstream: Socket
  carried: number
  limit: number | null
  dropped: boolean
  /** per direction: when the next chunk may go out (throttle) */
  free: [number, number]
  queue: [Array<{ due: number; chunk: Buffer }>, Array<{ due: number; chunk: Buffer }>]
  timer: [unknown, unknown]
}

/** What the proxy's parts share: the mode the test set and the open pipes. */
interface ProxyState {
  mode: ProxyMode
  shape: ProxyShape
  limit: number | null
  target: { port: number; host: string }
  pipes: Set<Pipe>
  stats: FaultProxy['stats']
  /** delay and throttle run on this clock (real time unless a test injects one) */
  clock: Clock
}

function kill(st: ProxyState, p: Pipe, rst: boolean): void {
  st.pipes.delete(p)
  for (const t of p.timer) if (t !== null) st.clock.clearTimeout(t)
  if (rst) {
    st.stats.resets++
    p.client.resetAndDestroy()
    p.upstream.resetAndDestroy()
  } else {
    p.client.destroy()
    p.upstream.destroy()
  }
}

/** Write every chunk of one direction that is due; wait on the clock for the next one. */
function flush(st: ProxyState, p: Pipe, dir: 0 | 1): void {
  p.timer[dir] = null
  const q = p.queue[dir]
  const out = dir === 0 ? p.upstream : p.client
  const now = st.clock.now()
  while (q.length && q[0]!.due <= now) {
    const { chunk } = q.shift()!
    if (!st.pipes.has(p)) return
    out.write(chunk)
    if (dir === 0) st.stats.bytesUp += chunk.length
    else st.stats.bytesDown += chunk.length
    p.carried += chunk.length
    if (p.limit !== null && p.carried >= p.limit) {
      kill(st, p, false)
      return
    }
  }
  if (q.length) p.timer[dir] = st.clock.setTimeout(() => flush(st, p, dir), Math.max(1, q[0]!.due - now))
}

function forward(st: ProxyState, p: Pipe, dir: 0 | 1, chunk: Buffer): void {
  if (st.mode === 'blackhole') {
    p.dropped = true
    st.stats.blackholed += chunk.length
    return
  }
  if (st.mode === 'cut') {
    kill(st, p, true)
    return
  }
  const now = st.clock.now()
  let due = now + (st.shape.delayMs ?? 0)
  if (st.shape.bytesPerSec) {
    // the chunk leaves when the link has transmitted everything queued before it
    const start = Math.max(now, p.free[dir])
    p.free[dir] = start + (chunk.length / st.shape.bytesPerSec) * 1000
    due = Math.max(due, p.free[dir])
  }
  p.queue[dir].push({ due, chunk })
  if (p.timer[dir] === null) {
    if (due <= now && p.queue[dir].length === 1) flush(st, p, dir)
    else p.timer[dir] = st.clock.setTimeout(() => flush(st, p, dir), Math.max(1, due - now))
  }
}

function accept(st: ProxyState, client: Socket): void {
  st.stats.accepted++
  if (st.mode === 'cut') {
    st.stats.resets++
    client.resetAndDestroy()
    return
  }
  const upstream = connect({ port: st.target.port, host: st.target.host, noDelay: true })
  const p: Pipe = {
    client,
    upstream,
    carried: 0,
    limit: st.limit,
    dropped: st.mode === 'blackhole',
    free: [0, 0],
    queue: [[], []],
    timer: [null, null],
  }
  st.pipes.add(p)
  client.on('data', (d: Buffer) => forward(st, p, 0, d))
  upstream.on('data', (d: Buffer) => forward(st, p, 1, d))
  const end = () => {
    if (st.pipes.has(p)) kill(st, p, false)
  }
  for (const s of [client, upstream]) {
    s.on('error', end)
    s.on('close', end)
  }
}

function setMode(st: ProxyState, m: ProxyMode): void {
  const prev = st.mode
  st.mode = m
  if (m === 'cut') for (const p of [...st.pipes]) kill(st, p, true)
  if (prev === 'blackhole' && m !== 'blackhole')
    for (const p of [...st.pipes]) if (p.dropped) kill(st, p, true)
}

export async function startFaultProxy(
  upstreamPort: number,
  upstreamHost = '127.0.0.1',
  clock: Clock = systemClock,
): Promise<FaultProxy & AsyncDisposable> {
  const st: ProxyState = {
    mode: 'pass',
    shape: {},
    limit: null,
    target: { port: upstreamPort, host: upstreamHost },
    pipes: new Set(),
    stats: { accepted: 0, bytesUp: 0, bytesDown: 0, blackholed: 0, resets: 0 },
    clock,
  }
  const server: Server = createServer({ noDelay: true }, (client) => accept(st, client))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      for (const p of [...st.pipes]) kill(st, p, false)
      server.close(() => resolve())
    })
    return closed
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get mode() {
      return st.mode
    },
    pass: () => {
      st.shape = {}
      st.limit = null
      for (const p of st.pipes) p.limit = null
      setMode(st, 'pass')
    },
    cut: () => setMode(st, 'cut'),
    blackhole: () => setMode(st, 'blackhole'),
    shape: (s) => {
      st.shape = { ...s }
      if (st.mode !== 'pass') setMode(st, 'pass')
    },
    closeAfter: (bytes) => {
      st.limit = bytes
      for (const p of st.pipes) p.limit = bytes === null ? null : p.carried + bytes
    },
    retarget: (port, host = '127.0.0.1') => {
      st.target = { port, host }
    },
    connections: () => st.pipes.size,
    stats: st.stats,
    close,
    [Symbol.asyncDispose]: close,
  }
}
