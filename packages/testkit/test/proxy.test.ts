import { type AddressInfo, createServer, type Server, type Socket, connect as tcp } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startFaultProxy, waitFor } from '../src/index.js'

/** an echo server on port 0 */
async function echo(): Promise<Server> {
  const s = createServer({ noDelay: true }, (c) => {
    c.on('error', () => {})
    c.pipe(c)
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())))
  return s
}
async function client(
  port: number,
): Promise<{ sock: Socket; got: () => number; closed: () => string | null }> {
  const sock = tcp({ port, host: '127.0.0.1', noDelay: true })
  let n = 0
  let closed: string | null = null
  sock.on('data', (d) => (n += d.length))
  sock.on('error', (e: NodeJS.ErrnoException) => (closed = e.code ?? 'error'))
  sock.on('close', () => (closed ??= 'close'))
  onTestFinished(() => void sock.destroy())
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve())
    sock.once('error', reject)
  })
  return { sock, got: () => n, closed: () => closed }
}

describe('fault proxy', () => {
  it('passes bytes both ways, then cuts with a TCP RST and refuses new connections while cut', async () => {
    const up = await echo()
    const p = await startFaultProxy((up.address() as AddressInfo).port)
    onTestFinished(() => p.close())
    const c = await client(p.port)
    c.sock.write(Buffer.alloc(1000, 1))
    await waitFor(() => c.got() === 1000, 'echo through the proxy')
    p.cut()
    await waitFor(() => c.closed(), 'connection reset')
    expect(c.closed()).toBe('ECONNRESET')
    const c2 = await client(p.port).catch(() => null)
    if (c2) await waitFor(() => c2.closed(), 'new connection reset')
    expect(p.stats.resets).toBeGreaterThanOrEqual(2)
  })

  it('blackholes: the connection stays open and nothing comes back; it is reset when the blackhole ends', async () => {
    const up = await echo()
    const p = await startFaultProxy((up.address() as AddressInfo).port)
    onTestFinished(() => p.close())
    const c = await client(p.port)
    p.blackhole()
    c.sock.write(Buffer.alloc(100, 1))
    // the proxy swallowed the bytes (it forwards synchronously, so nothing can be on its way back)
    await waitFor(() => p.stats.blackholed === 100, 'the bytes reached the blackhole')
    expect(c.got()).toBe(0)
    expect(c.closed()).toBeNull()
    p.pass()
    await waitFor(() => c.closed(), 'reset after the blackhole')
  })

  it('delays and throttles', async () => {
    const up = await echo()
    const p = await startFaultProxy((up.address() as AddressInfo).port)
    onTestFinished(() => p.close())
    const c = await client(p.port)
    p.shape({ delayMs: 100 })
    let t = Date.now()
    c.sock.write(Buffer.alloc(10, 1))
    await waitFor(() => c.got() === 10, 'delayed echo')
    // 100 ms each way
    expect(Date.now() - t).toBeGreaterThanOrEqual(190)
    p.shape({ bytesPerSec: 50_000 })
    t = Date.now()
    c.sock.write(Buffer.alloc(20_000, 1))
    await waitFor(() => c.got() === 20_010, 'throttled echo', 5000)
    // 20 KB at 50 KB/s is at least 0.4 s per direction
    expect(Date.now() - t).toBeGreaterThanOrEqual(380)
  })

  it('closes a connection after N bytes', async () => {
    const up = await echo()
    const p = await startFaultProxy((up.address() as AddressInfo).port)
    onTestFinished(() => p.close())
    p.closeAfter(5000)
    const c = await client(p.port)
    c.sock.write(Buffer.alloc(10_000, 1))
    await waitFor(() => c.closed(), 'closed after 5000 bytes')
    expect(c.got()).toBeLessThan(10_000)
  })
})
