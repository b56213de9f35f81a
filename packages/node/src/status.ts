import type { OutboxStats } from '@fogline/outbox'
import type { Engine } from '@fogline/pipeline'
import type { Clock, ErrorData, NodeConfig } from '@fogline/protocol'
import type { UplinkStats } from '@fogline/uplink'
import type { DeadLetterStore } from './deadletters.js'
import { diskFree } from './disk.js'
import type { IngestStats } from './ingest.js'
import type { NodeStats } from './types.js'
import type { WriterStats } from './writer.js'

export interface StatusParts {
  config: Pick<NodeConfig, 'nodeId' | 'group' | 'dataDir'>
  clock: Clock
  ingest: () => IngestStats
  engine: Pick<Engine, 'counters' | 'models'>
  deadLetters: Pick<DeadLetterStore, 'total'>
  writer: { stats(): WriterStats; lastError(): ErrorData | null }
  /** why the node did not start as it was left (quarantined outbox, checkpoint or pipelines not restored) */
  startupError: ErrorData | null
  /** version of the applied desired document, null when running the config file */
  configVersion: () => number | null
}

export interface NodeStatus {
  stats(u: UplinkStats, ob: OutboxStats): Omit<NodeStats, 'ops'>
  /** the body published on up/heartbeat */
  heartbeat(u: UplinkStats, ob: OutboxStats): Record<string, unknown>
}

/**
 * Node stats and the heartbeat, assembled once from each part's own stats. The uplink hands in its stats
 * and the outbox's (read once per heartbeat), so nothing here calls back into the uplink.
 * @example uplink = createUplink({ ..., heartbeat: (u, ob) => status.heartbeat(u, ob) })
 */
export function createStatus(p: StatusParts): NodeStatus {
  function stats(u: UplinkStats, ob: OutboxStats): Omit<NodeStats, 'ops'> {
    const i = p.ingest()
    const w = p.writer.stats()
    let malformed = 0
    for (const c of Object.values(p.engine.counters())) malformed += c.malformed
    return {
      nodeId: p.config.nodeId,
      readingsIn: i.readingsIn,
      readingsPerSec: i.readingsPerSec,
      oversize: i.oversize,
      authFailures: i.authFailures,
      malformed,
      deadLetters: p.deadLetters.total,
      outputs: w.outputs,
      backlogRecords: u.backlogRecords,
      backlogBytes: u.backlogBytes,
      oldestUnsentAgeMs: u.oldestUnsentAgeMs,
      sent: u.sent,
      acked: u.acked,
      resent: u.resent,
      overdueResends: u.overdueResends,
      ackLatencyP99Ms: u.ackLatencyP99Ms,
      connected: u.connected,
      dropped: { ...ob.dropped, ...w.dropped },
      // a write the disk refused is the news; then how the node started; while the cloud is unreachable, why
      lastError: p.writer.lastError() ?? p.startupError ?? (u.connected ? null : u.lastError),
    }
  }

  function heartbeat(u: UplinkStats, ob: OutboxStats) {
    const s = stats(u, ob)
    return {
      ts: p.clock.now(),
      online: true,
      group: p.config.group,
      readingsIn: s.readingsIn,
      readingsPerSec: s.readingsPerSec,
      backlogRecords: u.backlogRecords,
      backlogBytes: u.backlogBytes,
      oldestUnsentAgeMs: u.oldestUnsentAgeMs,
      etaSec: u.etaSec,
      dropped: s.dropped,
      configVersion: p.configVersion(),
      models: modelVersions(p.engine.models),
      diskFreeBytes: diskFree(p.config.dataDir),
      lastError: s.lastError,
      sent: u.sent,
      acked: u.acked,
      resent: u.resent,
      overdueResends: u.overdueResends,
      ackLatencyP99Ms: u.ackLatencyP99Ms,
      rejected: u.rejected,
      failovers: u.failovers,
      endpoint: u.endpoint,
      malformed: s.malformed,
      oversize: s.oversize,
      authFailures: s.authFailures,
      deadLetters: s.deadLetters,
      outputs: s.outputs,
    }
  }
  return { stats, heartbeat }
}

/** each anomaly model the node holds: kind, version and when it was trained (the fleet view shows them) */
function modelVersions(
  models: Engine['models'],
): Record<string, { kind: string; version: number; trainedAt: number | null }> {
  const out: Record<string, { kind: string; version: number; trainedAt: number | null }> = {}
  for (const name of models.names()) {
    const m = models.get(name)!
    out[name] = { kind: m.kind, version: m.version, trainedAt: m.trainedAt ?? null }
  }
  return out
}
