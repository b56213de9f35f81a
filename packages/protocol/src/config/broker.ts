import { z } from 'zod'
import { ByteSize } from './common.js'

/** The fog node's local MQTT broker (aedes). */
export const BrokerConfig = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0 picks a free port (tests); 1883 is the MQTT default */
  port: z.number().int().min(0).max(65535).default(1883),
  /** messages larger than this are refused and counted */
  maxPayload: ByteSize.prefault(256 * 1024),
  /**
   * username → password; when set, sensors must log in. A value `env:NAME` reads the password from the
   * environment variable NAME at start (so the file need not hold it). Unset: anonymous clients are allowed.
   */
  users: z.record(z.string().min(1), z.string().min(1)).optional(),
})
export type BrokerConfig = z.output<typeof BrokerConfig>
