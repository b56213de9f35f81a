import { FoglineError } from '@fogline/protocol'

/** API roles, each including the ones before it: a viewer reads, an operator changes the fleet, an admin manages tokens. */
export const ROLES = ['viewer', 'operator', 'admin'] as const
export type Role = (typeof ROLES)[number]
/** What a route needs: no token at all ('public'), or a token of at least this role. */
export type Access = 'public' | Role

/** The OpenAPI operation field every route declares its access in (the one place a rule lives). */
export const ROLE_FIELD = 'x-fogline-role'
/** The OpenAPI operation field naming the audited action of a control route, e.g. 'desired.create'. */
export const AUDIT_FIELD = 'x-fogline-audit'
/** The OpenAPI operation field of routes that also take a one-use `?ticket=` (EventSource cannot send headers). */
export const TICKET_FIELD = 'x-fogline-ticket'

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 }

/** Does a token of `role` pass a route that needs `need`? */
export function allows(role: Role, need: Access): boolean {
  return need === 'public' || RANK[role] >= RANK[need]
}

/** Parse a role name from user input; FOG_API_BAD_REQUEST naming the field otherwise. */
export function parseRole(v: unknown, field = 'role'): Role {
  if (typeof v === 'string' && (ROLES as readonly string[]).includes(v)) return v as Role
  throw new FoglineError('FOG_API_BAD_REQUEST', `role must be one of ${ROLES.join(', ')}, got "${v}"`, {
    field,
  })
}

/** One route's rule, as the guard applies it. */
export interface RouteRule {
  access: Access
  /** audited action name (control routes) */
  audit?: string
  /** accepts `?ticket=` in place of the Authorization header */
  ticket?: boolean
}
