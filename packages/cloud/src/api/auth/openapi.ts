/** OpenAPI entries of the token, audit, sign-in and stream-ticket routes. */
import { type OpenApiEntries, oa } from '../../shared/index.js'

const error = oa.error
const json = oa.json
const str = { type: 'string' }
const token = {
  type: 'object',
  properties: {
    id: str,
    name: str,
    role: { type: 'string', enum: ['viewer', 'operator', 'admin'] },
    createdAt: { type: 'integer' },
    revokedAt: { type: 'integer', nullable: true },
  },
}
const audit = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'integer' },
    tokenName: { type: 'string', nullable: true },
    role: { type: 'string', nullable: true },
    action: str,
    target: { type: 'string', nullable: true },
    version: { type: 'integer', nullable: true },
    result: { type: 'string', description: "'ok' or the error code the caller got" },
    client: { type: 'string', nullable: true },
  },
}
const denied = { 401: error('FOG_AUTH_REQUIRED'), 403: error('FOG_FORBIDDEN') }

/** The access room's OpenAPI entries. */
export const authOpenApi: OpenApiEntries = {
  paths: {
    '/api/auth/me': {
      get: {
        summary: "The caller's token name and role (the dashboard's sign-in check)",
        'x-fogline-role': 'viewer',
        responses: { 200: json({ type: 'object', properties: { name: str, role: str } }), ...denied },
      },
    },
    '/api/stream/ticket': {
      post: {
        summary: 'A one-use ticket for GET /api/stream?ticket= (EventSource cannot send headers); 30 s',
        'x-fogline-role': 'viewer',
        responses: {
          200: json({ type: 'object', properties: { ticket: str, expiresInMs: { type: 'integer' } } }),
          ...denied,
        },
      },
    },
    '/api/tokens': {
      get: {
        summary: 'Every API token (never the token itself: it is stored hashed)',
        'x-fogline-role': 'admin',
        responses: { 200: json({ type: 'array', items: token }), ...denied },
      },
      post: {
        summary: 'Make a token; the answer is the only time the token is shown',
        'x-fogline-role': 'admin',
        'x-fogline-audit': 'token.create',
        requestBody: oa.body({
          type: 'object',
          required: ['name', 'role'],
          properties: { name: str, role: { type: 'string', enum: ['viewer', 'operator', 'admin'] } },
        }),
        responses: {
          201: json({ ...token, properties: { ...token.properties, token: str } }),
          400: error('bad name or role'),
          ...denied,
        },
      },
    },
    '/api/tokens/{id}': {
      delete: {
        summary: 'Revoke a token by id or name',
        'x-fogline-role': 'admin',
        'x-fogline-audit': 'token.revoke',
        parameters: [{ name: 'id', in: 'path', required: true, schema: str }],
        responses: { 200: json(token), 404: error('no active token'), ...denied },
      },
    },
    '/api/audit': {
      get: {
        summary: 'Control actions, newest first: token name, action, target, version, result, time',
        'x-fogline-role': 'operator',
        parameters: [
          { name: 'action', in: 'query', schema: str },
          { name: 'token', in: 'query', schema: str, description: 'token name' },
          { name: 'since', in: 'query', schema: { type: 'integer' }, description: 'epoch ms' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
        ],
        responses: { 200: json({ type: 'array', items: audit }), 400: error('bad parameter'), ...denied },
      },
    },
  },
}
