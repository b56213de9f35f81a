import { connect } from 'node:net'
import type { Clock } from '@fogline/protocol'

/** A connection that is reset within this long after it opened (a proxy or firewall refusing) is no answer. */
const SETTLE_MS = 50

/**
 * Whether a TCP connection to the url's host and port opens and stays open for a moment, within `timeoutMs`.
 * The cheap way to notice a returning link: one SYN, no TLS, no MQTT session; the real connect follows.
 * @example if (await reachable('mqtt://cloud:1883', 500, clock)) link.connectNow()
 */
export function reachable(url: string, timeoutMs: number, clock: Clock): Promise<boolean> {
  const u = new URL(url)
  const tls = u.protocol === 'mqtts:' || u.protocol === 'wss:' || u.protocol === 'ssl:'
  const port = Number(u.port) || (u.protocol.startsWith('ws') ? (tls ? 443 : 80) : tls ? 8883 : 1883)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  return new Promise((resolve) => {
    const sock = connect({ host, port })
    let settled = false
    const done = (ok: boolean) => {
      if (settled) return
      settled = true
      clock.clearTimeout(timer)
      sock.destroy()
      resolve(ok)
    }
    const timer = clock.setTimeout(() => done(false), timeoutMs)
    sock.once('error', () => done(false))
    sock.once('close', () => done(false))
    sock.once('connect', () => clock.setTimeout(() => done(!sock.destroyed), SETTLE_MS))
  })
}

/**
 * Probe every `everyMs` until one of `urls` is reachable, then call `onUp(index)` once and stop.
 * Lifecycle: start → (probe)* → onUp | stop. Runs on the injected clock.
 */
export class ReachProbe {
  private timer: unknown = null
  private busy = false
  private running = false

  constructor(
    private readonly urls: readonly string[],
    private readonly everyMs: number,
    private readonly clock: Clock,
    private readonly onUp: (index: number) => void,
  ) {}

  get active(): boolean {
    return this.running
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.timer = this.clock.setInterval(() => void this.tick(), this.everyMs)
  }

  stop(): void {
    this.running = false
    if (this.timer !== null) this.clock.clearInterval(this.timer)
    this.timer = null
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.running) return
    this.busy = true
    try {
      for (let i = 0; i < this.urls.length; i++) {
        if (await reachable(this.urls[i]!, this.everyMs, this.clock)) {
          if (!this.running) return
          this.stop()
          this.onUp(i)
          return
        }
      }
    } finally {
      this.busy = false
    }
  }
}
