/** OpenAPI entries of the desired-state and rollout routes. */
import { type OpenApiEntries, oa } from '../shared/index.js'

const error = oa.error
const json = oa.json
const obj = { type: 'object', additionalProperties: true }
const target = {
  oneOf: [
    {
      type: 'object',
      required: ['node'],
      properties: { node: { type: 'string' } },
      additionalProperties: false,
    },
    {
      type: 'object',
      required: ['group'],
      properties: { group: { type: 'string' } },
      additionalProperties: false,
    },
  ],
}
const envelope = {
  type: 'object',
  required: ['doc', 'sig', 'keyId'],
  description:
    'a document signed on the operator machine (fogline push): sig = Ed25519 over canonical JSON of doc',
  properties: {
    doc: {
      type: 'object',
      required: ['version', 'target', 'createdAt'],
      properties: {
        version: { type: 'integer', description: 'GET /api/desired/next' },
        target,
        createdAt: { type: 'integer' },
        pipelines: { type: 'array', items: { type: 'object', additionalProperties: true } },
        models: { type: 'object', additionalProperties: true },
        uplink: { type: 'object', additionalProperties: true },
        keys: {
          type: 'array',
          items: { type: 'object', additionalProperties: true },
          description: 'a key rotation',
        },
        rollback: { type: 'boolean' },
        note: { type: 'string', maxLength: 1000 },
      },
    },
    sig: { type: 'string' },
    keyId: { type: 'string' },
  },
}
const version = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    target,
    topic: { type: 'string' },
    status: { type: 'string', enum: ['published', 'canary', 'stopped'] },
    rolloutId: { type: 'string', nullable: true },
    createdAt: { type: 'integer' },
    keyId: { type: 'string' },
    doc: obj,
  },
}
const rollout = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    group: { type: 'string' },
    version: { type: 'integer' },
    canary: { type: 'array', items: { type: 'string' } },
    state: { type: 'string', enum: ['canary', 'completed', 'stopped'] },
    timeoutMs: { type: 'integer' },
    startedAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    reason: { type: 'string', nullable: true },
    canaryStatus: obj,
    reports: { type: 'array', items: obj },
  },
}

/** The control room's OpenAPI entries, registered with its routes. */
export const controlOpenApi: OpenApiEntries = {
  paths: {
    '/api/desired': {
      post: {
        'x-fogline-role': 'operator',
        'x-fogline-audit': 'desired.create',
        summary:
          'Store and publish (retained) an operator-signed document; the cloud verifies it against operatorKeys and signs nothing',
        requestBody: oa.body(envelope),
        responses: {
          201: json(version, 'stored and published'),
          400: error(
            'FOG_SIGNATURE_MISSING, FOG_SIGNATURE_INVALID, FOG_KEY_UNKNOWN, FOG_KEY_EXPIRED or FOG_DESIRED_INVALID',
          ),
          403: error('FOG_KEY_SCOPE (or FOG_FORBIDDEN: the token role)'),
          409: error('FOG_VERSION_REPLAY: not the next version (where.next names it)'),
        },
      },
      get: {
        'x-fogline-role': 'viewer',
        summary: 'Versions, the current one and reports for a node (with its group) or a group',
        parameters: [
          { name: 'node', in: 'query', schema: { type: 'string' } },
          { name: 'group', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
        ],
        responses: { 200: json(obj), 400: error('neither or both of node and group') },
      },
    },
    '/api/desired/next': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'The version number the next signed document must carry',
        responses: { 200: json({ type: 'object', properties: { version: { type: 'integer' } } }) },
      },
    },
    '/api/keys': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'The operator keys the cloud verifies documents with (after every accepted rotation)',
        responses: {
          200: json({
            type: 'array',
            items: {
              type: 'object',
              properties: {
                keyId: { type: 'string' },
                publicKeyRaw: { type: 'string' },
                scopes: { type: 'array', items: { type: 'string', enum: ['pipelines', 'models', 'uplink'] } },
                notAfter: { type: 'integer' },
              },
            },
          }),
        },
      },
    },
    '/api/desired/{version}': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'One version with its signed envelope and every report on it',
        parameters: [{ name: 'version', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { 200: json(version), 400: error('bad version'), 404: error('no such version') },
      },
    },
    '/api/rollouts': {
      post: {
        'x-fogline-role': 'operator',
        'x-fogline-audit': 'rollout.start',
        summary: 'Start a staged rollout: canaries first, the group once they are applied and healthy',
        requestBody: oa.body({
          type: 'object',
          required: ['group', 'envelope'],
          properties: {
            group: { type: 'string' },
            canary: { type: 'array', items: { type: 'string' } },
            canaryCount: { type: 'integer', minimum: 1 },
            timeoutMs: { type: 'integer', minimum: 1, default: 60000 },
            envelope,
          },
        }),
        responses: {
          201: json(rollout, 'started'),
          400: error('FOG_API_BAD_REQUEST or FOG_DESIRED_INVALID'),
        },
      },
      get: {
        'x-fogline-role': 'viewer',
        summary: 'Rollouts, newest first',
        parameters: [{ name: 'group', in: 'query', schema: { type: 'string' } }],
        responses: { 200: json({ type: 'array', items: rollout }) },
      },
    },
    '/api/rollouts/{id}': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'One rollout: state, reason, canary reports',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: json(rollout), 404: error('no such rollout') },
      },
    },
  },
}
