import { type AddressInfo, createServer, type Socket } from 'node:net'
import type { Aedes } from 'aedes'

export interface TestBroker {
  url: string
  port: number
  aedes: Aedes
  /** number of connected clients */
  clients(): number
  close(): Promise<void>
}

/**
 * An aedes broker on 127.0.0.1, port 0 (or the one given, to restart a broker where it was), Nagle off.
 * @example await using b = await startTestBroker(); mqtt.connect(b.url)
 */
export async function startTestBroker(opts: { port?: number } = {}): Promise<TestBroker & AsyncDisposable> {
  const { Aedes } = await import('aedes')
  const aedes = await Aedes.createBroker()
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    aedes.handle(sock)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
      await new Promise<void>((r) => aedes.close(() => r()))
    })()
    return closed
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    aedes,
    clients: () => aedes.connectedClients,
    close,
    [Symbol.asyncDispose]: close,
  }
}
