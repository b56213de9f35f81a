import { z } from 'zod'
import { ByteSize } from './common.js'

/** The fog node's local MQTT broker (aedes). */
export const BrokerConfig = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0 picks a free port (tests); 1883 is the MQTT default */
  port: z.number().int().min(0).max(65535).default(1883),
  /** messages larger than this are refused and counted */
  maxPayload: ByteSize.prefault(256 * 1024),
})
export type BrokerConfig = z.output<typeof BrokerConfig>
