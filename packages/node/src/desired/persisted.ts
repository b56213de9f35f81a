import type { DesiredTarget } from '@fogline/protocol'

/** Key of the agent's record in the outbox's state KV (survives restarts). */
export const DESIRED_STATE_KEY = 'desired.agent'

/** what a desired-state document changes */
export interface Content {
  pipelines?: unknown
  models?: Record<string, unknown> | undefined
  uplink?: Record<string, unknown> | undefined
}
export interface AppliedDoc extends Content {
  version: number
  createdAt: number
  target: DesiredTarget
  sig: string
  health: 'pending' | 'ok'
}
/** the agent's record in the state KV */
export interface Persisted {
  applied: AppliedDoc | null
  /** what a failed health check goes back to; version null = the node's own config file */
  lastGood: (Content & { version: number | null; createdAt: number }) | null
  highest: number
  /** signature of the last document handled per topic kind: a retained redelivery is ignored silently */
  seen: { node?: string; group?: string }
}

export const emptyPersisted = (): Persisted => ({ applied: null, lastGood: null, highest: 0, seen: {} })

/** only the content fields that are set */
export function content(c: Content): Content {
  const out: Content = {}
  if (c.pipelines !== undefined) out.pipelines = c.pipelines
  if (c.models !== undefined) out.models = c.models
  if (c.uplink !== undefined) out.uplink = c.uplink
  return out
}

/** the last good content as an applied document (a rollback's or a restart's landing place) */
export function appliedFromGood(
  good: NonNullable<Persisted['lastGood']> & { version: number },
  target: DesiredTarget,
): AppliedDoc {
  return { ...content(good), version: good.version, createdAt: good.createdAt, target, sig: '', health: 'ok' }
}

/**
 * The pipelines a restarted node should build its engine with: those of the persisted applied document,
 * or undefined (use the config file). Building with them lets the engine's checkpoint restore into the
 * same pipelines, so open windows survive the restart; the agent's re-apply is then a no-op reload.
 * @example const pipelines = persistedDesiredPipelines((k) => outbox.getState(k)) ?? config.pipelines
 */
export function persistedDesiredPipelines(getState: (key: string) => unknown): unknown {
  return (getState(DESIRED_STATE_KEY) as Persisted | undefined)?.applied?.pipelines
}
