import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { guardMqRecursion } from '@fogline/broker'
import type { Aedes } from 'aedes'

export interface EmbeddedBroker {
  url: string
  aedes: Aedes
  close(): Promise<void>
}

/**
 * The cloud's in-process aedes broker (one-machine default). Port 0 picks a free port.
 * @example const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 }); mqtt.connect(b.url)
 */
export async function startEmbeddedBroker(opts: { host: string; port: number }): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes')
  const aedes = await Aedes.createBroker()
  // the same stack-overflow guard as the fog node's broker (mcollina/mqemitter#204)
  guardMqRecursion((aedes as unknown as { mq: unknown }).mq)
  const sockets = new Set<Socket>()
  // Nagle off: acks are small and latency-bound
  const server: Server = createServer({ noDelay: true }, (sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    aedes.handle(sock)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await new Promise<void>((r) => aedes.close(() => r()))
    throw err
  }
  const { port } = server.address() as AddressInfo
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host
  let closing: Promise<void> | undefined
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    aedes,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()))
        for (const s of sockets) s.destroy()
        await closed
        await new Promise<void>((r) => aedes.close(() => r()))
      })()
      return closing
    },
  }
}
