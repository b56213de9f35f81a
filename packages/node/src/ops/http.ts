import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Readiness } from './readiness.js'

/** The node's local ops endpoint. Lifecycle: start → (scrapes) → close. */
export interface OpsServer {
  /** http://host:port */
  readonly url: string
  close(): Promise<void>
}

export interface OpsServerOptions {
  host: string
  /** 0 picks a free port */
  port: number
  scrape(): Promise<{ body: string; contentType: string }>
  ready(): Readiness
}

/**
 * Serve `/metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (200 or 503 with the
 * reasons as ErrorData). Three GET routes on node:http: no framework on the gateway for them.
 * @example const s = await startOpsServer({ host: '127.0.0.1', port: 0, scrape, ready }); fetch(`${s.url}/readyz`)
 */
export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/metrics') {
      o.scrape().then(
        ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      )
      return
    }
    if (path === '/healthz') {
      json(res, 200, { status: 'ok', uptimeSec: Math.round(process.uptime()) })
      return
    }
    if (path === '/readyz') {
      const r = o.ready()
      json(res, r.ready ? 200 : 503, r)
      return
    }
    json(res, 404, {
      code: 'FOG_API_NOT_FOUND',
      message: `no route ${path}; try /metrics, /healthz, /readyz`,
      where: {},
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => resolve())
  })
  const a = server.address() as AddressInfo
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
  return {
    url: `http://${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body))
}
