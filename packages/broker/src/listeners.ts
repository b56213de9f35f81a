import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { type AddressInfo, createServer as createNetServer, isIP, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { createWebSocketStream, WebSocketServer } from 'ws'
import { closesClientToo } from './slim.js'

/** PEM contents (not paths: the config layer reads the files). */
export interface TlsPem {
  cert: string | Buffer
  key: string | Buffer
  /** CA(s) that client certificates must chain to; needed with `requireCertificate` */
  ca?: string | Buffer
}

/** One listening socket of the broker. */
export interface ListenerSpec {
  type: 'mqtt' | 'mqtts' | 'ws' | 'wss'
  host: string
  /** 0 picks a free port */
  port: number
  /** WebSocket path (ws/wss), default /mqtt */
  path?: string
  /** required for mqtts and wss */
  tls?: TlsPem
  /** mqtts/wss: a client must present a certificate that chains to `tls.ca`; its CN or SAN is the user name */
  requireCertificate?: boolean
  /** which certificate name becomes the user name (default cn; san = the first DNS/email/URI SAN) */
  identity?: 'cn' | 'san'
  /** allow clients without credentials; default: only when bound to loopback */
  anonymous?: boolean
}

/** What a connection knows about where it came in; read by the authenticate hook. */
export interface ConnInfo {
  listener: ListenerSpec & { anonymousAllowed: boolean }
  remote: string
  /** the verified client certificate's name, when the listener requires one */
  certName?: string
}

export interface OpenListener {
  spec: ListenerSpec & { anonymousAllowed: boolean }
  port: number
  url: string
  close(): Promise<void>
}

/** Server TLS options: client certificates are requested when required and verified by us (see infoOf). */
function tlsOptions(spec: ListenerSpec) {
  return {
    cert: spec.tls!.cert,
    key: spec.tls!.key,
    ...(spec.tls!.ca ? { ca: spec.tls!.ca } : {}),
    requestCert: spec.requireCertificate === true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
  }
}

/** Whether a listener address accepts only this machine's own connections. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

function certName(sock: TLSSocket, identity: 'cn' | 'san'): string | undefined {
  const cert = sock.getPeerCertificate()
  if (!cert || Object.keys(cert).length === 0) return undefined
  if (identity === 'cn') {
    const cn = cert.subject?.CN
    return Array.isArray(cn) ? cn[0] : cn
  }
  // "DNS:a.example, email:x@y" → the first name after its type prefix
  const first = cert.subjectaltname?.split(',')[0]?.trim()
  return first ? first.slice(first.indexOf(':') + 1) : undefined
}

/**
 * The peer's `address:port`. Node keeps what the two getters read (`_peername`: an object and the address
 * string, 88 bytes) on the socket for its whole life; nothing here reads it again, and a later read would ask
 * the handle anew, so the cache goes.
 */
function peerOf(s: Socket): string {
  const remote = `${s.remoteAddress}:${s.remotePort}`
  ;(s as unknown as { _peername?: unknown })._peername = undefined
  return remote
}

function urlHost(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return h.includes(':') ? `[${h}]` : h
}

/**
 * Open one listener and hand each accepted stream to `handle` with what is known about it. TCP_NODELAY on
 * every socket (Nagle adds ~40 ms to small acks). TLS handshake failures go to `onTlsError` (the connection
 * never reaches MQTT).
 */
export async function openListener(
  spec: ListenerSpec,
  handle: (stream: Duplex, info: ConnInfo, req?: IncomingMessage) => void,
  onTlsError: (err: Error & { code?: string }, remote: string, spec: ListenerSpec) => void,
  sockets: Set<Socket>,
): Promise<OpenListener> {
  const full = { ...spec, anonymousAllowed: spec.anonymous ?? isLoopback(spec.host) }
  const secure = spec.type === 'mqtts' || spec.type === 'wss'
  const tlsOpts = secure ? tlsOptions(spec) : undefined
  const identity = spec.identity ?? 'cn'
  // one listener function for every socket ('close' comes once): a closure and a `once` wrapper per socket
  // would stay on each idle connection for its whole life
  const untrack = function (this: Socket) {
    sockets.delete(this)
  }
  closesClientToo(untrack)
  const track = (s: Socket) => {
    s.setNoDelay(true)
    sockets.add(s)
    s.on('close', untrack)
  }
  const infoOf = (s: Socket): ConnInfo | undefined => {
    const info: ConnInfo = { listener: full, remote: peerOf(s) }
    if (!secure || !spec.requireCertificate) return info
    // verified here rather than by rejectUnauthorized, so the refusal carries its reason and the peer address
    const t = s as TLSSocket
    const name = t.authorized ? certName(t, identity) : undefined
    if (name === undefined) {
      const code = t.authorizationError ? String(t.authorizationError) : 'NO_CERTIFICATE_NAME'
      onTlsError(Object.assign(new Error(code), { code }), info.remote, spec)
      s.destroy()
      return undefined
    }
    info.certName = name
    return info
  }
  const accept = (stream: Duplex, s: Socket, req?: IncomingMessage) => {
    const info = infoOf(s)
    if (info) handle(stream, info, req)
    else stream.destroy()
  }
  let server: Server | HttpServer
  if (spec.type === 'mqtt') {
    server = createNetServer({ noDelay: true }, (s) => {
      track(s)
      accept(s, s)
    })
  } else if (spec.type === 'mqtts') {
    server = createTlsServer(tlsOpts!, (s) => {
      track(s)
      accept(s, s)
    })
  } else {
    server = spec.type === 'wss' ? createHttpsServer(tlsOpts!) : createHttpServer()
    server.on('connection', track)
    const wss = new WebSocketServer({ server: server as HttpServer, path: spec.path ?? '/mqtt' })
    wss.on('connection', (ws, req) => accept(createWebSocketStream(ws), req.socket, req))
  }
  if (secure)
    server.on('tlsClientError', (err: Error & { code?: string }, s: Socket) => {
      // a peer that closes mid-handshake is not a refusal of ours
      if (err.code !== 'ECONNRESET') onTlsError(err, `${s.remoteAddress}:${s.remotePort}`, spec)
      s.destroy()
    })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(spec.port, spec.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const path = spec.type === 'ws' || spec.type === 'wss' ? (spec.path ?? '/mqtt') : ''
  return {
    spec: full,
    port,
    url: `${spec.type}://${urlHost(spec.host)}:${port}${path}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

/** One line per listener: what is open, and to whom. */
export function describeListener(l: OpenListener, logins: string): string {
  const s = l.spec
  const tls = s.type === 'mqtts' || s.type === 'wss'
  const who = [
    s.requireCertificate
      ? `clients with a certificate from the configured CA (user = cert ${s.identity ?? 'cn'})`
      : '',
    !s.requireCertificate ? logins : '',
    s.anonymousAllowed ? `anonymous clients${isLoopback(s.host) ? ' on this machine' : ''}` : '',
  ].filter(Boolean)
  return `${s.type} ${s.host}:${l.port}${tls ? ' (TLS)' : ''}: open to ${who.length ? who.join('; ') : 'nobody (anonymous refused on a non-loopback listener, and no logins configured)'}`
}
