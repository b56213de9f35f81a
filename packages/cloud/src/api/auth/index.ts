import type { Clock } from '@fogline/protocol'
import type { HttpRoom } from '../../shared/index.js'
import { FailLimiter } from './limiter.js'
import { authOpenApi } from './openapi.js'
import type { AccessRepo } from './repo.js'
import { registerAuthRoutes } from './routes.js'
import { Tickets } from './tickets.js'
import { TokenService } from './tokens.js'

export { installGuard, rulesFrom, toOpenApiPath, whoOf } from './guard.js'
export { openAccessRepo, openPostgresAccessRepo, openSqliteAccessRepo } from './open.js'
export type { AccessRepo, AuditInput, AuditQuery, AuditRow, TokenRow } from './repo.js'
export { type Access, allows, ROLE_FIELD, ROLES, type Role, type RouteRule } from './roles.js'
export { hashToken, TokenService } from './tokens.js'

/** What the API needs for access control: the repo, tokens, stream tickets, the failed-attempt limiter. */
export interface AccessParts {
  repo: AccessRepo
  tokens: TokenService
  tickets: Tickets
  limiter: FailLimiter
}

/** Tokens over a repo, with tickets and the limiter on the given clock. */
export function createAccess(repo: AccessRepo, clock: Clock): AccessParts {
  return {
    repo,
    tokens: new TokenService(repo, () => clock.now()),
    tickets: new Tickets(clock),
    limiter: new FailLimiter(clock),
  }
}

/** The access room: sign-in check, stream tickets, token management, the audit log. */
export function authRoom(a: AccessParts): HttpRoom {
  return { name: 'auth', openapi: authOpenApi, routes: (app) => registerAuthRoutes(app, a) }
}
