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
const content = {
  pipelines: { type: 'array', items: obj, description: 'the whole pipeline set (docs/pipeline.md)' },
  models: { type: 'object', additionalProperties: true, description: 'anomaly model parameters by name' },
  uplink: { type: 'object', additionalProperties: true, description: 'a subset of uplink settings' },
  note: { type: 'string', maxLength: 1000 },
  rollbackTo: { type: 'integer', minimum: 1, description: 'copy this version’s content, marked rollback' },
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
        summary: 'Create, sign and publish (retained) the next desired-state version for a node or a group',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['target'],
                additionalProperties: false,
                properties: { target, ...content },
              },
            },
          },
        },
        responses: {
          201: json(version, 'created and published'),
          400: error('FOG_DESIRED_INVALID (field in where)'),
          404: error('rollbackTo names no version'),
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
    '/api/desired/public-key': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'The Ed25519 public key nodes verify desired state with',
        responses: { 200: json(obj) },
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
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['group', 'doc'],
                properties: {
                  group: { type: 'string' },
                  canary: { type: 'array', items: { type: 'string' } },
                  canaryCount: { type: 'integer', minimum: 1 },
                  timeoutMs: { type: 'integer', minimum: 1, default: 60000 },
                  doc: { type: 'object', properties: content },
                },
              },
            },
          },
        },
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
