import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'

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
  readonly stats: { accepted: number; bytesUp: number; bytesDown: number; resets: number }
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
  timer: [NodeJS.Timeout | null, NodeJS.Timeout | null]
}

export async function startFaultProxy(
  upstreamPort: number,
  upstreamHost = '127.0.0.1',
): Promise<FaultProxy & AsyncDisposable> {
  let mode: ProxyMode = 'pass'
  let shape: ProxyShape = {}
  let limit: number | null = null
  let target = { port: upstreamPort, host: upstreamHost }
  const pipes = new Set<Pipe>()
  const stats = { accepted: 0, bytesUp: 0, bytesDown: 0, resets: 0 }

  const kill = (p: Pipe, rst: boolean) => {
    pipes.delete(p)
    for (const t of p.timer) if (t) clearTimeout(t)
    if (rst) {
      stats.resets++
      p.client.resetAndDestroy()
      p.upstream.resetAndDestroy()
    } else {
      p.client.destroy()
      p.upstream.destroy()
    }
  }

  const flush = (p: Pipe, dir: 0 | 1) => {
    p.timer[dir] = null
    const q = p.queue[dir]
    const out = dir === 0 ? p.upstream : p.client
    const now = Date.now()
    while (q.length && q[0]!.due <= now) {
      const { chunk } = q.shift()!
      if (!pipes.has(p)) return
      out.write(chunk)
      if (dir === 0) stats.bytesUp += chunk.length
      else stats.bytesDown += chunk.length
      p.carried += chunk.length
      if (p.limit !== null && p.carried >= p.limit) return kill(p, false)
    }
    if (q.length) p.timer[dir] = setTimeout(() => flush(p, dir), Math.max(1, q[0]!.due - now))
  }

  const forward = (p: Pipe, dir: 0 | 1, chunk: Buffer) => {
    if (mode === 'blackhole') {
      p.dropped = true
      return
    }
    if (mode === 'cut') return kill(p, true)
    const now = Date.now()
    let due = now + (shape.delayMs ?? 0)
    if (shape.bytesPerSec) {
      // the chunk leaves when the link has transmitted everything queued before it
      const start = Math.max(now, p.free[dir])
      p.free[dir] = start + (chunk.length / shape.bytesPerSec) * 1000
      due = Math.max(due, p.free[dir])
    }
    p.queue[dir].push({ due, chunk })
    if (!p.timer[dir]) {
      if (due <= now && p.queue[dir].length === 1) flush(p, dir)
      else p.timer[dir] = setTimeout(() => flush(p, dir), Math.max(1, due - now))
    }
  }

  const server: Server = createServer({ noDelay: true }, (client) => {
    stats.accepted++
    if (mode === 'cut') {
      stats.resets++
      client.resetAndDestroy()
      return
    }
    const upstream = connect({ port: target.port, host: target.host, noDelay: true })
    const p: Pipe = {
      client,
      upstream,
      carried: 0,
      limit,
      dropped: mode === 'blackhole',
      free: [0, 0],
      queue: [[], []],
      timer: [null, null],
    }
    pipes.add(p)
    client.on('data', (d: Buffer) => forward(p, 0, d))
    upstream.on('data', (d: Buffer) => forward(p, 1, d))
    const end = () => {
      if (pipes.has(p)) kill(p, false)
    }
    for (const s of [client, upstream]) {
      s.on('error', end)
      s.on('close', end)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port

  const setMode = (m: ProxyMode) => {
    const prev = mode
    mode = m
    if (m === 'cut') for (const p of [...pipes]) kill(p, true)
    if (prev === 'blackhole' && m !== 'blackhole') for (const p of [...pipes]) if (p.dropped) kill(p, true)
  }
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      for (const p of [...pipes]) kill(p, false)
      server.close(() => resolve())
    })
    return closed
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get mode() {
      return mode
    },
    pass: () => {
      shape = {}
      limit = null
      for (const p of pipes) p.limit = null
      setMode('pass')
    },
    cut: () => setMode('cut'),
    blackhole: () => setMode('blackhole'),
    shape: (s) => {
      shape = { ...s }
      if (mode !== 'pass') setMode('pass')
    },
    closeAfter: (bytes) => {
      limit = bytes
      for (const p of pipes) p.limit = bytes === null ? null : p.carried + bytes
    },
    retarget: (port, host = '127.0.0.1') => {
      target = { port, host }
    },
    connections: () => pipes.size,
    stats,
    close,
    [Symbol.asyncDispose]: close,
  }
}
