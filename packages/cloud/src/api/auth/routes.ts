import type { FastifyInstance } from 'fastify'
import { noteAudit } from '../../shared/index.js'
import { badRequest, notFound } from '../errors.js'
import { idParam, limitParam, onlyKeys, textParam, timeParam } from '../params.js'
import { whoOf } from './guard.js'
import type { AccessRepo } from './repo.js'
import type { Tickets } from './tickets.js'
import type { TokenService } from './tokens.js'

type Q = Record<string, unknown>

/** GET /api/auth/me, POST /api/stream/ticket, GET|POST /api/tokens, DELETE /api/tokens/:id, GET /api/audit. */
export function registerAuthRoutes(
  app: FastifyInstance,
  d: { tokens: TokenService; tickets: Tickets; repo: AccessRepo },
): void {
  app.get('/api/auth/me', async (req) => {
    const who = whoOf(req)!
    return { name: who.name, role: who.role }
  })

  app.post('/api/stream/ticket', async (req) => ({
    ticket: d.tickets.issue(whoOf(req)!),
    expiresInMs: d.tickets.ttlMs,
  }))

  app.get('/api/tokens', async () => d.tokens.list())

  app.post('/api/tokens', async (req, reply) => {
    const body = req.body as { name?: unknown; role?: unknown } | undefined
    if (!body || typeof body.name !== 'string')
      throw badRequest('body must be {"name": …, "role": …}', 'name')
    const { token, row } = await d.tokens.create({ name: body.name, role: String(body.role) })
    noteAudit(req, { target: `token:${row.name}` })
    return reply.status(201).send({ ...row, token })
  })

  app.delete('/api/tokens/:id', async (req) => {
    const id = idParam(req.params as Q, 'id')!
    const row = await d.tokens.revoke(id)
    noteAudit(req, { target: `token:${row?.name ?? id}` })
    if (!row) throw notFound(`no active token with id or name "${id}"`, { token: id })
    return row
  })

  app.get('/api/audit', async (req) => {
    const q = req.query as Q
    onlyKeys(q, ['action', 'token', 'since', 'limit'])
    return d.repo.listAudit({
      action: textParam(q, 'action'),
      tokenName: textParam(q, 'token'),
      since: timeParam(q, 'since'),
      limit: limitParam(q),
    })
  })
}
