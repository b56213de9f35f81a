export type { Uplink, UplinkLogger, UplinkOptions, UplinkStats, UplinkTunables } from './types.js'
export { createUplink } from './uplink.js'
export { encodeBatchSpliced, type WireOptions } from './wire.js'
