import { z } from 'zod'
import { Duration } from './common.js'

/** How the node takes sensor readings in. */
export const IngestConfig = z.strictObject({
  /**
   * true: a QoS 1 PUBACK (QoS 2: PUBREC) is sent only after the reading is in the ingest journal on disk
   * (replayed after a crash); false: it goes out on receipt and a crash loses up to checkpoint.interval of
   * readings
   */
  journal: z.boolean().default(true),
  /**
   * group commit of the journal: PUBACKs wait at most about this long. Unset: once per turn of the event loop
   * (the readings its reads took share one write) under `outbox.synchronous: NORMAL`, 2 ms under FULL (one
   * fdatasync per group: the interval bounds their number)
   */
  commitInterval: Duration.optional(),
})
export type IngestConfig = z.output<typeof IngestConfig>
