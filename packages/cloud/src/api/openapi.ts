import { type OpenApiEntries, oa } from '../shared/index.js'

/** What GET /openapi.json says about the cloud as a whole. */
export const API_INFO = {
  title: 'Fogline cloud API',
  version: '1',
  description:
    'Fleet view, stored summaries and events, dead letters and a live event stream of a Fogline aggregator.',
} as const

const { ref } = oa
const err = oa.error
const ok = (schema: unknown, description = 'OK') => oa.json(schema, description)
const q = (name: string, description: string, schema: unknown = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
})
const time = (name: string, what: string) =>
  q(name, `${what}: epoch ms or ISO 8601`, {
    oneOf: [{ type: 'integer' }, { type: 'string', format: 'date-time' }],
  })
const limit = q('limit', 'max rows (newest kept), 1..100000', {
  type: 'integer',
  minimum: 1,
  maximum: 100000,
})
const num = { type: 'number' }
const int = { type: 'integer' }
const str = { type: 'string' }
const nullable = (t: Record<string, unknown>) => ({ ...t, nullable: true })

/** The read API's OpenAPI entries (fleet, summaries, events, dead letters, stream, metrics). */
export const apiOpenApi: OpenApiEntries = {
  paths: {
    '/api/health': {
      get: {
        'x-fogline-role': 'public',
        summary: 'Liveness and store kind',
        responses: { 200: ok({ type: 'object' }) },
      },
    },
    '/api/nodes': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'The fleet: one entry per node ever seen',
        responses: { 200: ok({ type: 'array', items: ref('Node') }) },
      },
    },
    '/api/nodes/{id}': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'One node',
        parameters: [{ name: 'id', in: 'path', required: true, schema: str }],
        responses: { 200: ok(ref('Node')), 400: err('bad id'), 404: err('unknown node') },
      },
    },
    '/api/summaries': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'Stored window summaries, optionally re-aggregated per resolution bucket',
        parameters: [
          q('node', 'node id'),
          q('sensor', 'sensor id'),
          q('metric', 'metric name'),
          q('pipeline', 'pipeline id'),
          time('from', 'window start >='),
          time('to', 'window start <'),
          q(
            'resolution',
            'bucket size: ms or a duration such as 1m; count/sum add, min/max combine, mean = sum/count',
            {
              oneOf: [int, str],
            },
          ),
          limit,
        ],
        responses: { 200: ok({ type: 'array', items: ref('Summary') }), 400: err('bad parameter') },
      },
    },
    '/api/models/fit': {
      get: {
        'x-fogline-role': 'viewer',
        summary:
          'Fit a gaussian anomaly model (mean, std per sensor) from stored summaries that carry a stddev or variance aggregate; push it as desired state models',
        parameters: [
          q('metric', 'metric name (required)'),
          q('node', 'node id'),
          q('sensor', 'sensor id'),
          q('pipeline', 'pipeline id'),
          time('from', 'window start >='),
          time('to', 'window start <'),
          q('k', 'score threshold of the model (default 4)', num),
        ],
        responses: {
          200: ok({
            type: 'object',
            properties: {
              model: { type: 'object' },
              used: { type: 'integer', description: 'summaries pooled' },
              skipped: { type: 'integer', description: 'summaries without a spread aggregate' },
            },
          }),
          400: err('bad parameter, or no summaries to fit'),
        },
      },
    },
    '/api/events': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'Stored events (thresholds, anomalies)',
        parameters: [
          q('node', 'node id'),
          q('sensor', 'sensor id'),
          time('from', 'ts >='),
          time('to', 'ts <'),
          limit,
        ],
        responses: { 200: ok({ type: 'array', items: ref('Event') }), 400: err('bad parameter') },
      },
    },
    '/api/deadletters': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'Up messages or records the cloud refused, newest first',
        parameters: [q('node', 'node id'), limit],
        responses: { 200: ok({ type: 'array', items: ref('DeadLetter') }), 400: err('bad parameter') },
      },
    },
    '/api/stream': {
      get: {
        'x-fogline-role': 'viewer',
        'x-fogline-ticket': true,
        summary:
          'Server-sent events: `summary`, `event`, `node` (data is the row as JSON); a comment every 15 s',
        parameters: [q('node', 'only this node')],
        responses: {
          200: { description: 'event stream', content: { 'text/event-stream': { schema: str } } },
        },
      },
    },
    '/api/demo/nodes/{id}/link': {
      post: {
        'x-fogline-role': 'operator',
        'x-fogline-audit': 'demo.link',
        summary: 'Demo only: cut or restore a node uplink',
        parameters: [{ name: 'id', in: 'path', required: true, schema: str }],
        requestBody: oa.body({ type: 'object', required: ['up'], properties: { up: { type: 'boolean' } } }),
        responses: {
          200: ok({ type: 'object' }),
          400: err('bad body'),
          404: err('not running the demo, or unknown node'),
        },
      },
    },
    '/metrics': {
      get: {
        'x-fogline-role': 'viewer',
        summary: 'Prometheus metrics',
        responses: { 200: { description: 'text exposition format' } },
      },
    },
    '/openapi.json': {
      get: {
        'x-fogline-role': 'public',
        summary: 'This document',
        responses: { 200: ok({ type: 'object' }) },
      },
    },
  },
  schemas: {
    Node: {
      type: 'object',
      properties: {
        nodeId: str,
        group: nullable(str),
        online: {
          type: 'boolean',
          description: 'declared online and heard from within fleet.offlineAfter',
        },
        lastSeen: int,
        firstSeen: int,
        readingsPerSec: num,
        readingsIn: num,
        backlogRecords: int,
        backlogBytes: int,
        oldestUnsentAgeMs: nullable(num),
        etaSec: nullable(num),
        outboxFullAt: nullable(int),
        diskFreeBytes: nullable(num),
        dropped: { type: 'object', additionalProperties: int },
        configVersion: nullable({ oneOf: [int, str] }),
        models: {
          type: 'object',
          description: 'the anomaly models the node holds, by name',
          additionalProperties: {
            type: 'object',
            properties: { kind: str, version: int, trainedAt: nullable(int) },
          },
        },
        lastError: { allOf: [ref('ErrorData')], nullable: true, description: 'the node’s last error' },
        sent: int,
        acked: int,
        resent: int,
        rejected: { type: 'integer', description: 'batches the cloud refused for good (dead-lettered)' },
        failovers: int,
        endpoint: nullable(str),
        malformed: { type: 'integer', description: 'readings the node could not decode' },
        oversize: { type: 'integer', description: 'payloads over the node broker maxPayload' },
        authFailures: { type: 'integer', description: 'sensor clients refused for bad credentials' },
        deadLetters: int,
        outputs: { type: 'object', additionalProperties: int, description: 'records made per stream' },
        summaries: { type: 'integer', description: 'summaries stored for this node' },
        events: int,
        reported: nullable({ type: 'object' }),
        reportedAt: nullable(int),
      },
    },
    Summary: {
      type: 'object',
      properties: {
        nodeId: str,
        stream: str,
        seq: int,
        pipelineId: str,
        sensorId: str,
        metric: str,
        start: int,
        end: int,
        count: int,
        min: num,
        max: num,
        mean: num,
        sum: num,
        aggs: nullable({ type: 'object', additionalProperties: num }),
      },
    },
    Event: {
      type: 'object',
      properties: {
        nodeId: str,
        seq: int,
        pipelineId: str,
        sensorId: str,
        metric: str,
        ts: int,
        kind: str,
        name: str,
        value: num,
        severity: nullable(str),
        detail: nullable({ type: 'object' }),
      },
    },
    DeadLetter: {
      type: 'object',
      properties: {
        id: int,
        receivedAt: int,
        nodeId: nullable(str),
        stream: nullable(str),
        seq: nullable(int),
        topic: str,
        code: str,
        reason: str,
        bytes: int,
      },
    },
  },
}
