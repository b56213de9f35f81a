import { type ErrorData, toErrorData } from '@fogline/protocol'
import type { HttpRoom } from './http.js'

/** One condition of readiness: null when it holds, else why not (as data). */
export type ReadyCheck = () => Promise<ErrorData | null> | ErrorData | null

/** What GET /readyz answers: 200 with ready true, or 503 with every reason. */
export interface ReadyState {
  ready: boolean
  reasons: ErrorData[]
  schemaVersion: number | null
}

/**
 * Readiness of this aggregator for load balancers and orchestrators: every check (store reachable, ingest
 * subscribed, not stopping) must hold. Lifecycle: create → add checks as parts start → state() per probe.
 */
export class Readiness {
  private readonly checks: ReadyCheck[] = []
  schemaVersion: number | null = null

  add(check: ReadyCheck): void {
    this.checks.push(check)
  }

  async state(): Promise<ReadyState> {
    const reasons: ErrorData[] = []
    for (const c of this.checks) {
      try {
        const r = await c()
        if (r) reasons.push(r)
      } catch (err) {
        reasons.push(toErrorData(err))
      }
    }
    return { ready: reasons.length === 0, reasons, schemaVersion: this.schemaVersion }
  }
}

const STATE_SCHEMA = {
  type: 'object',
  properties: {
    ready: { type: 'boolean' },
    reasons: { type: 'array', items: { $ref: '#/components/schemas/Error' } },
    schemaVersion: { type: 'integer', nullable: true },
  },
}

/** GET /healthz (the process answers) and GET /readyz (it takes messages), both without a token. */
export function readinessRoom(r: Readiness): HttpRoom {
  return {
    name: 'readiness',
    openapi: {
      paths: {
        '/healthz': {
          get: {
            'x-fogline-role': 'public',
            summary: 'Liveness: the process answers',
            responses: { 200: { description: 'alive' } },
          },
        },
        '/readyz': {
          get: {
            'x-fogline-role': 'public',
            summary: 'Readiness: store reachable, subscribed to the up topics, not stopping',
            responses: {
              200: { description: 'ready', content: { 'application/json': { schema: STATE_SCHEMA } } },
              503: {
                description: 'not ready, with the reasons',
                content: { 'application/json': { schema: STATE_SCHEMA } },
              },
            },
          },
        },
      },
    },
    routes(app) {
      app.get('/healthz', async () => ({ ok: true }))
      app.get('/readyz', async (_req, reply) => {
        const s = await r.state()
        return reply.code(s.ready ? 200 : 503).send(s)
      })
    },
  }
}
