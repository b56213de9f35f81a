import { randomBytes } from 'node:crypto'
import type { Clock } from '@fogline/protocol'
import type { TokenRow } from './repo.js'

/**
 * One-use, short-lived tickets for GET /api/stream: EventSource cannot send an Authorization header, and a
 * long-lived token in a URL would end up in proxy logs and browser history. A ticket is good for one
 * connection within `ttlMs`; it lives in this process only (behind a load balancer, ask the replica you
 * stream from, or send the header from a non-browser client).
 * Lifecycle: issue (authenticated POST) → take (the stream's GET) → gone.
 */
export class Tickets {
  private readonly open = new Map<string, { who: TokenRow; until: number }>()

  constructor(
    private readonly clock: Clock,
    readonly ttlMs = 30_000,
    private readonly max = 10_000,
  ) {}

  issue(who: TokenRow): string {
    const now = this.clock.now()
    for (const [k, v] of this.open) if (v.until <= now) this.open.delete(k)
    if (this.open.size >= this.max) {
      const oldest = this.open.keys().next().value
      if (oldest !== undefined) this.open.delete(oldest)
    }
    const t = `tkt_${randomBytes(24).toString('base64url')}`
    this.open.set(t, { who, until: now + this.ttlMs })
    return t
  }

  /** the ticket's token row, once; null when unknown, used or expired */
  take(ticket: string): TokenRow | null {
    const v = this.open.get(ticket)
    this.open.delete(ticket)
    return v && v.until > this.clock.now() ? v.who : null
  }
}
