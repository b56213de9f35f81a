import { z } from 'zod'
import { ByteSize, Duration } from './common.js'

/** PEM files of a TLS endpoint (paths, relative to the config file's folder). */
export const TlsFiles = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
  /** CA bundle that peers' certificates must chain to */
  ca: z.string().min(1).optional(),
})

/** One listener of the fog broker: plain MQTT, MQTT over TLS, WebSocket or secure WebSocket. */
export const BrokerListener = z
  .strictObject({
    type: z.enum(['mqtt', 'mqtts', 'ws', 'wss']),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535),
    /** WebSocket path (ws, wss) */
    path: z.string().startsWith('/').default('/mqtt'),
    /** PEM files; required for mqtts and wss */
    tls: TlsFiles.optional(),
    /** mqtts/wss: clients must present a certificate from tls.ca; its CN (or SAN) becomes the user name */
    requireCertificate: z.boolean().default(false),
    identity: z.enum(['cn', 'san']).default('cn'),
    /** allow clients without credentials; unset: only on a loopback listener with no logins configured */
    anonymous: z.boolean().optional(),
  })
  .superRefine((l, ctx) => {
    const secure = l.type === 'mqtts' || l.type === 'wss'
    if (secure && !l.tls)
      ctx.addIssue({ code: 'custom', path: ['tls'], message: `${l.type} needs tls.cert and tls.key` })
    if (!secure && l.tls)
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: `${l.type} is plaintext; use mqtts or wss for TLS`,
      })
    if (l.requireCertificate && !l.tls?.ca)
      ctx.addIssue({ code: 'custom', path: ['tls', 'ca'], message: 'requireCertificate needs tls.ca' })
  })

/** Per-client limits; each hit is counted and logged; 0 turns a rate limit off. */
export const BrokerLimitsConfig = z.strictObject({
  maxConnections: z.number().int().positive().default(1000),
  publishRate: z.number().nonnegative().default(10_000),
  publishBytesPerSec: ByteSize.prefault('16MiB'),
  maxTopicLength: z.number().int().positive().max(65535).default(256),
  maxTopicLevels: z.number().int().positive().max(100).default(16),
  maxInflight: z.number().int().positive().default(100),
  connectTimeout: Duration.prefault('10s'),
})

/** The fog node's local MQTT broker (aedes). */
export const BrokerConfig = z.strictObject({
  /** the plain listener when `listeners` is not set */
  host: z.string().default('127.0.0.1'),
  /** 0 picks a free port (tests); 1883 is the MQTT default */
  port: z.number().int().min(0).max(65535).default(1883),
  /** when set, these replace host/port: mqtt, mqtts, ws, wss */
  listeners: z.array(BrokerListener).min(1).optional(),
  /** messages larger than this are refused and counted */
  maxPayload: ByteSize.prefault(256 * 1024),
  /** password file of salted scrypt hashes, made with `fogline passwd FILE USER` */
  passwordFile: z.string().min(1).optional(),
  /** topic rights in Mosquitto's acl_file format (user / topic / pattern with %u and %c) */
  aclFile: z.string().min(1).optional(),
  /**
   * username → password. A value `env:NAME` reads the password from the environment variable NAME at start.
   * A plaintext value is refused outside `fogline demo`: use passwordFile.
   */
  users: z.record(z.string().min(1), z.string().min(1)).optional(),
  limits: BrokerLimitsConfig.prefault({}),
  /**
   * Plain TCP clients are read into one shared buffer and their whole PUBLISH packets parsed without
   * mqtt-packet's parser loop (docs/decisions.md, "The broker's read path"), and their PUBACKs are written
   * through the socket's handle ("A PUBACK is written through the socket's handle"); false: aedes' own paths.
   */
  fastPath: z.boolean().default(true),
})
export type BrokerConfig = z.output<typeof BrokerConfig>
