import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Clock } from '@fogline/protocol'
import type { Aedes, Client } from 'aedes'
import type { BrokerCounters, BrokerLogger } from './counters.js'
import { directRead, type FastPath } from './direct-read.js'
import type { BrokerLimits } from './limits.js'
import type { ConnInfo, ListenerSpec } from './listeners.js'
import { closeOnClose, slimClient, slimConnected } from './slim.js'

/**
 * What each listener does with an accepted stream (hand it to aedes, arm the connect timeout on the injected
 * clock) and with a refused TLS handshake (count and log its reason).
 */
export function connectionHandlers(
  broker: Aedes,
  ctx: {
    info: WeakMap<object, ConnInfo>
    clock: Clock
    limits: BrokerLimits
    counters: BrokerCounters
    log: BrokerLogger
    /** broker.fastPath: how plain TCP clients are read and parsed; unset: aedes reads every stream itself */
    fast: FastPath | undefined
  },
) {
  const { info, clock, limits, counters, log } = ctx
  const handle = (stream: Duplex, ci: ConnInfo, req?: unknown) => {
    info.set(stream, ci)
    const client = broker.handle(stream as never, req as never) as unknown as Client & {
      connected: boolean
      connecting: boolean
      once(e: string, f: () => void): void
    }
    // true: aedes' end-of-stream watch is off, the client is closed here on 'close' (slim.ts)
    const own = slimClient(client as never, stream)
    if (ctx.fast && stream instanceof Socket) directRead(stream, client as never, ctx.fast)
    const timer = clock.setTimeout(() => {
      // a CONNECT arrived in time (aedes sets `connecting` on it; a slow login is not this limit)
      if (client.connected || client.connecting) return
      counters.limits.connectTimeout++
      log.warn({ limit: 'connectTimeout', remote: ci.remote }, 'no CONNECT in time: connection closed')
      stream.destroy()
    }, limits.connectTimeout)
    // nothing of the timer stays once CONNECT is in: each connection's listeners cost memory for its whole
    // life (heap per idle connection, docs/benchmarks.md), so the close listener goes with the timer, and what
    // only the CONNECT needed goes too (how it came in: read by the login hooks, which are done now)
    const onClose = () => {
      clock.clearTimeout(timer)
      if (own) client.close()
    }
    stream.once('close', onClose)
    client.once('connected', () => {
      clock.clearTimeout(timer)
      stream.removeListener('close', onClose)
      if (own) closeOnClose(client as never, stream as Socket)
      info.delete(stream)
      slimConnected(client as never)
    })
  }
  const onTlsError = (err: Error & { code?: string }, remote: string, spec: ListenerSpec) => {
    counters.refused.certificate++
    log.warn(
      {
        code: 'FOG_AUTH_FAILED',
        reason: 'certificate',
        tls: err.code ?? err.message,
        remote,
        listener: spec.type,
      },
      `a TLS handshake was refused: ${err.code ?? err.message}`,
    )
  }
  return { handle, onTlsError }
}
