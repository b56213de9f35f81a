import { z } from 'zod'
import { KeySet } from '../keyset.js'
import { BrokerListener } from './broker.js'
import { Duration, Id } from './common.js'

/** The cloud aggregator's config file. */
export const CloudConfig = z.strictObject({
  /** 'embedded' runs an in-process aedes broker; otherwise the URL of an external MQTT broker */
  broker: z
    .union([
      z.strictObject({
        embedded: z.strictObject({
          host: z.string().default('127.0.0.1'),
          port: z.number().int().min(0).max(65535).default(1885),
          /**
           * node id → password. When set, only these nodes may connect (MQTT username = node id), and each
           * may publish only to fogline/v1/{its id}/up/# and subscribe only to fogline/v1/{its id}/down/# and
           * group desired-state documents, so a node cannot write as another. `env:NAME` reads the password
           * from the environment.
           */
          nodes: z.record(Id, z.string().min(1)).optional(),
          /** when set, these replace host/port (mqtt, mqtts, ws, wss; as the fog broker's listeners) */
          listeners: z.array(BrokerListener).min(1).optional(),
        }),
      }),
      z.strictObject({
        url: z.string().url(),
        username: z.string().optional(),
        password: z.string().optional(),
        /**
         * MQTT 5 shared-subscription group: replicas in one group split the up traffic
         * (`$share/{group}/fogline/v1/+/up/#`). `false` subscribes plainly (MQTT 3.1.1 brokers).
         */
        shareGroup: z.union([z.string().regex(/^[^/+#$]+$/), z.literal(false)]).default('fogline-ingest'),
        /** 5 is needed for shared subscriptions; 4 (3.1.1) for brokers without MQTT 5 */
        protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
        clientId: z.string().optional(),
        /**
         * topic filters to ingest; the default takes every node. Narrow it (e.g. one filter per node id)
         * to split nodes across pools of aggregators, or to keep a test off other traffic on a shared broker.
         */
        filters: z.array(z.string().startsWith('fogline/v1/')).min(1).default(['fogline/v1/+/up/#']),
      }),
    ])
    .default({ embedded: { host: '127.0.0.1', port: 1885 } }),
  store: z
    .union([z.strictObject({ sqlite: z.string().min(1) }), z.strictObject({ postgres: z.string().min(1) })])
    .default({ sqlite: './.fogline/cloud.db' }),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** HTTPS: PEM files of the API's certificate and key (paths relative to the working folder) */
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /** comment line sent on idle SSE streams so proxies keep them open */
      sseHeartbeat: Duration.prefault('15s'),
    })
    .prefault({}),
  fleet: z
    .strictObject({
      /** a node whose last heartbeat is older than this is offline (default 3 x the node's 15 s heartbeat) */
      offlineAfter: Duration.prefault('45s'),
      /** how often the registry looks for nodes that went silent (for live `node` events) */
      sweepInterval: Duration.prefault('1s'),
    })
    .prefault({}),
  /** summaries rolled up to hourly after `rollupAfter` and deleted after `deleteAfter` (false: keep all) */
  retention: z
    .union([
      z.strictObject({
        rollupAfter: Duration.prefault('30d'),
        deleteAfter: Duration.prefault('400d'),
        every: Duration.prefault('1h'),
      }),
      z.literal(false),
    ])
    .prefault({}),
  /**
   * The operator keys posted desired-state documents must be signed with (the nodes' `desiredKeys`). The
   * cloud signs nothing itself; without keys it refuses every document (FOG_KEY_UNKNOWN).
   */
  operatorKeys: KeySet.optional(),
  /**
   * Anomaly-model training (docs/anomaly.md, "Cloud training"): fit per-sensor and per-class models from the
   * stored summaries, publish a new version only when it beats the current one on held-back recent data.
   * Absent: no training (POST /api/models/train answers FOG_CONFIG_INVALID naming `training`).
   */
  training: z
    .strictObject({
      /** PEM file of the cloud's own signing key; the operators must trust it with scope `models` only */
      key: z.string().min(1),
      /** five-field cron on the cloud's clock; absent: on demand only (`fogline train`) */
      schedule: z.string().min(9).optional(),
      /** what the schedule trains: node ids and groups */
      targets: z.array(z.union([z.strictObject({ node: Id }), z.strictObject({ group: Id })])).default([]),
      /** how far back the summaries a model is fitted from reach */
      lookback: Duration.prefault('7d'),
      /** the newest share of that period is held back to judge candidate against current */
      holdBack: z.number().gt(0).lt(1).default(0.25),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
})
export type CloudConfig = z.output<typeof CloudConfig>
export type CloudConfigInput = z.input<typeof CloudConfig>
