import { type Clock, FoglineError } from '@fogline/protocol'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { AuditNote } from '../../shared/index.js'
import type { FailLimiter } from './limiter.js'
import type { AuditInput, TokenRow } from './repo.js'
import { type Access, AUDIT_FIELD, allows, ROLE_FIELD, type RouteRule, TICKET_FIELD } from './roles.js'
import type { Tickets } from './tickets.js'
import type { TokenService } from './tokens.js'

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

/** '/api/nodes/:id' → '/api/nodes/{id}' (fastify's form to OpenAPI's). */
export const toOpenApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

/**
 * Every operation's rule from the OpenAPI document (its `x-fogline-role`), plus rules for routes that are not
 * API operations (the dashboard's files). An operation without a role is an error here, so the cloud does
 * not start with a route nobody decided on.
 */
export function rulesFrom(
  doc: { paths?: Record<string, unknown> },
  extra: Readonly<Record<string, Access>> = {},
): Map<string, RouteRule> {
  const rules = new Map<string, RouteRule>()
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const m of METHODS) {
      const op = (item as Record<string, Record<string, unknown> | undefined>)[m]
      if (!op) continue
      const access = op[ROLE_FIELD] as Access | undefined
      if (!access)
        throw new FoglineError(
          'FOG_INTERNAL',
          `${m.toUpperCase()} ${path} has no ${ROLE_FIELD} in its OpenAPI entry`,
          { route: `${m.toUpperCase()} ${path}` },
        )
      const audit = typeof op[AUDIT_FIELD] === 'string' ? (op[AUDIT_FIELD] as string) : undefined
      rules.set(`${m.toUpperCase()} ${path}`, {
        access,
        ...(audit ? { audit } : {}),
        ...(op[TICKET_FIELD] === true ? { ticket: true } : {}),
      })
    }
  }
  for (const [k, access] of Object.entries(extra)) rules.set(k, { access })
  return rules
}

export interface GuardDeps {
  tokens: TokenService
  tickets: Tickets
  limiter: FailLimiter
  clock: Clock
  logger: Logger
  audit(a: AuditInput): Promise<void>
  /** refusals are counted here (fogline_cloud_api_refused_total{code}) */
  registry: Registry
}

type Req = FastifyRequest & { who?: TokenRow | null; auditNote?: AuditNote; fogError?: string }
const ruleOf = (req: FastifyRequest) =>
  (req.routeOptions.config as { fogRule?: RouteRule } | undefined)?.fogRule

/** The caller's token row (set by the guard on every route that needs one). */
export const whoOf = (req: FastifyRequest): TokenRow | null => (req as Req).who ?? null

/**
 * Install the guard before any route: each route added afterwards must have a rule (or adding it throws),
 * each request is checked against it (401 FOG_AUTH_REQUIRED, 403 FOG_FORBIDDEN, 429 FOG_RATE_LIMITED), and
 * audited routes write an audit entry once replied.
 */
export function installGuard(app: FastifyInstance, rules: Map<string, RouteRule>, d: GuardDeps): void {
  const refused = new Counter({
    name: 'fogline_cloud_api_refused_total',
    help: 'API requests refused by the guard, by code',
    labelNames: ['code'] as const,
    registers: [d.registry],
  })
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      const m = method === 'HEAD' ? 'GET' : method
      const rule = rules.get(`${m} ${toOpenApiPath(r.url)}`)
      if (!rule)
        throw new FoglineError(
          'FOG_INTERNAL',
          `route ${method} ${r.url} has no access rule: give its OpenAPI operation an ${ROLE_FIELD}`,
          { route: `${method} ${r.url}` },
        )
      r.config = { ...(r.config as object), fogRule: rule }
    }
  })
  const refuse = (
    code: 'FOG_AUTH_REQUIRED' | 'FOG_FORBIDDEN' | 'FOG_RATE_LIMITED',
    msg: string,
    req: Req,
  ) => {
    refused.inc({ code })
    return new FoglineError(code, msg, { route: `${req.method} ${req.routeOptions.url}` })
  }
  app.addHook('onRequest', async (request) => {
    const req = request as Req
    const rule = ruleOf(req)
    if (!rule || rule.access === 'public') return
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const ticket = rule.ticket ? (req.query as { ticket?: unknown }).ticket : undefined
    if (!bearer && typeof ticket !== 'string')
      throw refuse('FOG_AUTH_REQUIRED', 'this route needs an API token: Authorization: Bearer <token>', req)
    if (d.limiter.blocked(req.ip))
      throw refuse('FOG_RATE_LIMITED', 'too many failed token attempts from this address; wait a minute', req)
    const who = bearer ? await d.tokens.verify(bearer) : d.tickets.take(String(ticket))
    if (!who) {
      d.limiter.fail(req.ip)
      throw refuse(
        'FOG_AUTH_REQUIRED',
        bearer ? 'the API token is unknown or revoked' : 'the stream ticket is unknown, used or expired',
        req,
      )
    }
    req.who = who
    if (!allows(who.role, rule.access))
      throw refuse(
        'FOG_FORBIDDEN',
        `this route needs role ${rule.access}; token "${who.name}" has role ${who.role}`,
        req,
      )
  })
  app.addHook('onResponse', async (request, reply) => {
    const req = request as Req
    const rule = ruleOf(req)
    if (!rule?.audit || !req.who) return
    await d
      .audit(auditEntry(req, reply, rule.audit, d.clock.now()))
      .catch((err) =>
        d.logger.error({ err: (err as Error).message, action: rule.audit }, 'audit entry not stored'),
      )
  })
}

function auditEntry(req: Req, reply: FastifyReply, action: string, at: number): AuditInput {
  const params = req.params as Record<string, string> | undefined
  const note = req.auditNote ?? {}
  return {
    at,
    tokenName: req.who?.name ?? null,
    role: req.who?.role ?? null,
    action,
    target: note.target ?? (params && Object.keys(params).length ? Object.values(params).join('/') : null),
    version: note.version ?? null,
    result: reply.statusCode < 400 ? 'ok' : (req.fogError ?? `HTTP ${reply.statusCode}`),
    client: req.ip,
  }
}
