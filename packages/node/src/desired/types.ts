import type { Clock, DesiredReport, DesiredUplink } from '@fogline/protocol'

export interface DesiredAgentLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export interface DesiredAgentDeps {
  nodeId: string
  group: string
  /** the trusted key set (config desiredKeys: key, scopes, not-after); without one every document is refused */
  keys?: readonly unknown[] | undefined
  clock: Clock
  logger?: DesiredAgentLogger | undefined
  /** the outbox's state KV */
  getState(key: string): unknown
  putState(key: string, value: unknown): Promise<void>
  /** hot-reload pipelines; throws FoglineError and keeps the running set when they are invalid */
  applyPipelines(pipelines: unknown): void
  currentPipelines(): unknown
  /** anomaly model parameters; absent → a document's models are stored and reported as not applied */
  applyModels?: ((models: Record<string, unknown>) => void) | undefined
  /** uplink settings; absent → reported as not applied */
  applyUplink?: ((settings: DesiredUplink) => void) | undefined
  /** the new version's health (health.ts); `final` at the end of the window, when "no input" can be judged */
  health(final: boolean): { ok: boolean; reason?: string }
  /** called just before a document is applied, so a probe can take the running version's rates */
  healthBeforeChange?: (() => void) | undefined
  /** called when a health window starts, so a probe can take its baseline */
  healthReset?: (() => void) | undefined
  /** hand a report to the cloud (the node appends it to the outbox's durable `reported` stream) */
  report(body: DesiredReport): void
  /** how long a new document must stay healthy before it becomes the last good one (default 10 s) */
  healthWindowMs?: number | undefined
  /** how often health() is asked during the window (default 1 s) */
  healthCheckMs?: number | undefined
}

/** Lifecycle: create (re-applies the persisted document) → handle(topic, payload)* → close. */
export interface DesiredAgent {
  handle(topic: string, payload: Buffer): Promise<void>
  /** version of the document running now; null when the node runs its own config file */
  appliedVersion(): number | null
  status(): DesiredAgentStatus
  close(): void
}

export interface DesiredAgentStatus {
  appliedVersion: number | null
  /** 'pending' while a health window runs */
  health: 'pending' | 'ok' | null
  /** the highest version ever applied: anything not above it is a replay (unless marked rollback) */
  highestVersion: number
  lastGoodVersion: number | null
}
