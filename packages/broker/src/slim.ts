import { Socket } from 'node:net'

/**
 * Per-connection memory aedes 1.2 spends on things a sensor's connection never uses; each costs heap for the
 * connection's whole life (bench/heap-per-conn.ts, docs/benchmarks.md). Applied to each client right after
 * `aedes.handle`; nothing here changes what aedes does with a packet.
 */

interface AedesClient {
  conn: { client?: unknown }
  subscriptions: object
  duplicates: object
  _inboundInflight: InflightIds | Set<number>
  _eos: () => void
  _parser: { settings?: ParserSettings | undefined }
  close(): void
  emit(event: string, ...args: unknown[]): boolean
}

interface ParserSettings {
  protocolVersion?: number | undefined
  bridgeMode?: boolean | undefined
}

/**
 * An empty object with no prototype chain to speak of: aedes keys `subscriptions` and `duplicates` by topic
 * filter and broker id from the wire on `Object.create(null)` (GHSA-52qw-whmv-87c5: 'constructor' or
 * '__proto__' must read back as absent). Such an object starts in V8's dictionary mode, 184 bytes empty; an
 * object whose prototype is this frozen, empty, null-prototype one reads back the same (nothing inherited, no
 * `__proto__` accessor in its chain) and starts as a 56-byte fast object.
 */
const NOTHING = Object.freeze(Object.create(null) as object)

/**
 * aedes' `_inboundInflight` (lib/client.js): the inbound QoS 2 packet ids awaiting PUBREL, a `Set` made for
 * every client (152 bytes empty) and used only by QoS 2 publishers (handlers/publish.js: has, size, add;
 * handlers/pubrel.js: delete). The same four members, with the Set made on the first `add`.
 */
export class InflightIds {
  private ids: Set<number> | null = null
  get size(): number {
    return this.ids === null ? 0 : this.ids.size
  }
  has(id: number): boolean {
    return this.ids?.has(id) === true
  }
  add(id: number): this {
    ;(this.ids ??= new Set()).add(id)
    return this
  }
  delete(id: number): boolean {
    return this.ids?.delete(id) === true
  }
}

type Conn = Socket & { client?: AedesClient }

/** the shared listeners below, for every client: `this` is the socket or the parser, each knows its client */
function closeClient(this: Conn): void {
  this.client?.close()
}
function emitError(this: { client?: AedesClient }, err: Error): void {
  this.client?.emit('error', err)
}
function noop(): void {}

/** what aedes' close() calls as `this._eos()` once `closeOnClose` took over: takes its listener off again */
function stopCloseOnClose(this: AedesClient): void {
  ;(this.conn as unknown as Socket).removeListener('close', closeClient)
}

/** swap the listener aedes bound for this client (by its name) for a shared one; aedes' is the event's last */
function swap(
  e: object,
  event: string,
  bound: string,
  shared: (this: never, ...a: never[]) => void,
): boolean {
  const em = e as unknown as Socket
  const own = em.rawListeners(event).find((f) => f.name === bound)
  if (!own) return false
  em.removeListener(event, own as () => void)
  em.on(event, shared as () => void)
  return true
}

/**
 * Right after `aedes.handle(stream)`, before any packet was read. Returns true when aedes' end-of-stream
 * watch was taken off: then the caller closes the client on the socket's 'close' until CONNECT is in, and
 * `closeOnClose` after.
 *
 * aedes binds a function per client for the parser's 'error' (`emit.bind(client, 'error')`) and, on the
 * connection, for 'error' and 'end' (`close.bind(client)`), and watches the end of the connection with
 * `finished(conn, close)` (stream.finished: eight closures, a context and a third 'end' listener that makes
 * Node grow the listener array to 19 slots; ~900 bytes in all). The bound ones become shared functions that
 * reach the client through `this` (aedes sets `conn.client` and `parser.client`). On a net.Socket (TCP or
 * TLS) every way a connection can end is followed by 'close' — an error (aedes' own 'error' listener closes
 * first), the peer's FIN (aedes' 'end' listener), a destroy — so one listener there stands in for `finished`.
 */
export function slimClient(client: AedesClient, stream: unknown): boolean {
  client.subscriptions = Object.create(NOTHING)
  client.duplicates = Object.create(NOTHING)
  client._inboundInflight = new InflightIds()
  swap(client._parser, 'error', 'bound emit', emitError)
  if (!(stream instanceof Socket) || stream.destroyed) return false
  client._eos()
  client._eos = noop
  // 'end' now holds Node's listener and aedes': with aedes' off the array goes, and the two fit a new one
  swap(stream, 'error', 'bound emit', emitError)
  swap(stream, 'end', 'bound close', closeClient)
  return true
}

/** a socket 'close' listener of the broker's (listeners.ts) → the one that does its work and closeClient's */
const withCloseClient = new WeakMap<object, (this: Conn) => void>()

/**
 * `listener`, a socket 'close' listener shared by many sockets, gets a companion that also closes the socket's
 * client; `closeOnClose` puts that one in its place: one listener instead of two, so Node keeps a function
 * for 'close' rather than an array of two (64 B a connection).
 */
export function closesClientToo(listener: (this: Socket) => void): void {
  withCloseClient.set(listener, function (this: Conn) {
    listener.call(this)
    closeClient.call(this)
  })
}

/** Once CONNECT is in (after the caller took its own 'close' listener off): the shared 'close' listener. */
export function closeOnClose(client: AedesClient, stream: Socket): void {
  const ls = stream.rawListeners('close')
  const both = ls.length === 1 ? withCloseClient.get(ls[0]!) : undefined
  if (both) {
    // closing the client twice is harmless (aedes' close returns when closed), so it need not come off
    client._eos = noop
    stream.removeListener('close', ls[0] as () => void)
    stream.on('close', both)
    return
  }
  client._eos = stopCloseOnClose
  stream.on('close', closeClient)
}

// one settings object per (protocol version, bridge mode), shared by the parsers of every connected client
const settingsFor = new Map<string, ParserSettings>()

/**
 * Once connected: mqtt-packet's parser keeps the whole CONNECT packet as its `settings` (client id, user name,
 * password, will; ~180 bytes) and reads only `protocolVersion` and `bridgeMode` from it afterwards (parser.js);
 * a second CONNECT would set it again, and aedes refuses one on a connected client before parsing matters.
 */
export function slimConnected(client: AedesClient): void {
  const p = client._parser
  const s = p.settings
  if (!s) return
  const key = `${s.protocolVersion}:${s.bridgeMode === true}`
  let shared = settingsFor.get(key)
  if (!shared) {
    shared = Object.freeze({ protocolVersion: s.protocolVersion, bridgeMode: s.bridgeMode === true })
    settingsFor.set(key, shared)
  }
  p.settings = shared
  compactEvents(client)
  compactEvents(p)
}

/**
 * The client and its parser are EventEmitters whose listener table (`_events`, made as `{ __proto__: null }`)
 * is in V8's dictionary mode: 184 bytes each for the two or so events they keep. Once connected (the 'connected'
 * listeners are gone) the same listeners go into an object with the `NOTHING` prototype (above): lookups by
 * event name read the same, 56 bytes. Node's streams preset their table as a fast object for the same reason.
 */
function compactEvents(e: object): void {
  const em = e as { _events?: object }
  const events = em._events
  if (events !== undefined && Object.getPrototypeOf(events) === null)
    em._events = Object.assign(Object.create(NOTHING) as object, events)
}
