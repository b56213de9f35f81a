import { FoglineError } from '@fogline/protocol'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/** OpenAPI 3 entries a room adds to GET /openapi.json: `paths` and `components.schemas`. */
export interface OpenApiEntries {
  paths: Readonly<Record<string, unknown>>
  schemas?: Readonly<Record<string, unknown>>
}

/**
 * A room's part of the HTTP API: its routes and their OpenAPI entries, registered together.
 * @example registry.add({ name: 'control', openapi: { paths }, routes: (app) => app.get('/api/desired', h) })
 */
export interface HttpRoom {
  name: string
  openapi: OpenApiEntries
  routes(app: FastifyInstance): void | Promise<void>
}

/** An error as data (`ErrorData` of @fogline/protocol): a stable code, a plain sentence, and where. */
export const ERROR_DATA_SCHEMA = {
  type: 'object',
  required: ['code', 'message', 'where'],
  properties: {
    code: { type: 'string', example: 'FOG_API_BAD_REQUEST' },
    message: { type: 'string' },
    where: { type: 'object', additionalProperties: true },
  },
} as const

/** The body of every error response: `{ error: { code, message, where } }`. */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: { error: { $ref: '#/components/schemas/ErrorData' } },
} as const

/** OpenAPI helpers shared by the rooms' documents. */
export const oa = {
  ref: (name: string) => ({ $ref: `#/components/schemas/${name}` }),
  error: (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  }),
  /** a required JSON request body */
  body: (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } }),
  json: (schema: unknown, description = 'OK') => ({
    description,
    content: { 'application/json': { schema } },
  }),
}

/**
 * The one registry of HTTP routes: each room adds its routes with their OpenAPI entries; the served document
 * is built from what was added, so no room edits another's document.
 * Lifecycle: create → add(room)* → mount(app) → document() per request.
 */
export class ApiRegistry {
  private readonly rooms: HttpRoom[] = []

  constructor(private readonly info: Readonly<Record<string, unknown>>) {}

  add(room: HttpRoom): void {
    if (this.rooms.some((r) => r.name === room.name))
      throw new FoglineError('FOG_INTERNAL', `HTTP room ${room.name} is registered twice`, {
        room: room.name,
      })
    this.rooms.push(room)
  }

  async mount(app: FastifyInstance): Promise<void> {
    for (const r of this.rooms) await r.routes(app)
  }

  /** A fresh OpenAPI 3 document of every registered room. */
  document(): Record<string, unknown> {
    const paths: Record<string, unknown> = {}
    const schemas: Record<string, unknown> = { Error: ERROR_SCHEMA, ErrorData: ERROR_DATA_SCHEMA }
    for (const r of this.rooms) {
      Object.assign(paths, r.openapi.paths)
      Object.assign(schemas, r.openapi.schemas ?? {})
    }
    return { openapi: '3.0.3', info: this.info, paths, components: { schemas } }
  }
}

/** What a control route tells the audit log about its action (the guard writes the entry after the reply). */
export interface AuditNote {
  target?: string
  version?: number
}

/**
 * Name the target and version of an audited action from its handler.
 * @example noteAudit(req, { target: 'group:line-1', version: row.version })
 */
export function noteAudit(req: FastifyRequest, note: AuditNote): void {
  ;(req as FastifyRequest & { auditNote?: AuditNote }).auditNote = note
}
