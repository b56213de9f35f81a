import { z } from 'zod'

/** The cloud aggregator's config file. */
export const CloudConfig = z.strictObject({
  /** 'embedded' runs an in-process aedes broker; otherwise the URL of an external MQTT broker */
  broker: z
    .union([
      z.strictObject({ embedded: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(1885) }) }),
      z.strictObject({ url: z.string().url(), username: z.string().optional(), password: z.string().optional() }),
    ])
    .default({ embedded: { host: '127.0.0.1', port: 1885 } }),
  store: z
    .union([z.strictObject({ sqlite: z.string().min(1) }), z.strictObject({ postgres: z.string().min(1) })])
    .default({ sqlite: './.fogline/cloud.db' }),
  http: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8080) }).prefault({}),
  /** Ed25519 private key file used to sign desired state */
  signingKeyFile: z.string().optional(),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
})
export type CloudConfig = z.output<typeof CloudConfig>
