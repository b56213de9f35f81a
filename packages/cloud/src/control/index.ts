import type { HttpRoom } from '../shared/index.js'
import type { ControlContext } from './context.js'
import { DesiredService } from './desired.js'
import { TrustedKeys } from './keys.js'
import { controlOpenApi } from './openapi.js'
import { openPostgresControlRepo } from './postgres.js'
import type { ControlRepo } from './repo.js'
import { Rollouts } from './rollout.js'
import { registerRoutes } from './routes.js'
import { openSqliteControlRepo } from './sqlite.js'

export type { ControlContext } from './context.js'
export type { TrustedKeyView } from './keys.js'
export { openPostgresControlRepo } from './postgres.js'
export type { ControlRepo, DesiredRow, ReportRow, RolloutRow, RolloutState } from './repo.js'
export { openSqliteControlRepo } from './sqlite.js'

export interface ControlOptions {
  /** use this repo instead of control tables beside the cloud's SQLite file */
  repo?: ControlRepo
}

/** A running control room: its HTTP routes (with their OpenAPI entries) and its cleanup. */
export interface Control {
  room: HttpRoom
  desired: DesiredService
  rollouts: Rollouts
  repo: ControlRepo
  /** stop listening for reports and timers; close the repo this opened */
  close(): Promise<void>
}

/**
 * Desired state and rollouts on the cloud: the signing key, the control tables, the reported-state listener
 * that moves rollouts on, and the routes. The cloud calls this once its MQTT client is up.
 * Lifecycle: startControl → (room mounted on the API) → close.
 * @example const control = await startControl(ctx); registry.add(control.room)
 */
export async function startControl(ctx: ControlContext, opts: ControlOptions = {}): Promise<Control> {
  const trust = new TrustedKeys(ctx.config.operatorKeys)
  if (trust.current().size === 0)
    ctx.logger.warn('no operatorKeys: every desired-state document is refused (FOG_KEY_UNKNOWN)')
  const repo = opts.repo ?? (await openRepo(ctx.config.store))
  const stored = await repo.listVersions({ limit: 100_000 })
  trust.replay(stored.filter((v) => v.status !== 'stopped').map((v) => v.doc))
  const desired = new DesiredService(ctx, repo, trust)
  const rollouts = new Rollouts(ctx, repo, desired)
  await rollouts.recover()
  const reports = followReports(ctx, repo, rollouts)

  const republished = await desired.republishLatest().catch((err) => {
    ctx.logger.warn({ err: (err as Error).message }, 'could not republish the latest desired state')
    return 0
  })
  if (republished) ctx.logger.info({ count: republished }, 'latest desired state republished (retained)')

  const room: HttpRoom = {
    name: 'control',
    openapi: controlOpenApi,
    routes: (app) => registerRoutes(app, ctx, desired, repo, rollouts),
  }
  return {
    room,
    desired,
    rollouts,
    repo,
    async close() {
      await reports.stop()
      rollouts.close()
      if (!opts.repo) await repo.close()
    },
  }
}

function openRepo(s: ControlContext['config']['store']): Promise<ControlRepo> {
  return 'sqlite' in s
    ? Promise.resolve(openSqliteControlRepo(s.sqlite))
    : openPostgresControlRepo({ url: s.postgres })
}

/** Store each node report on a version and move rollouts on, one report at a time. */
function followReports(
  ctx: ControlContext,
  repo: ControlRepo,
  rollouts: Rollouts,
): { stop(): Promise<void> } {
  // reports are handled one at a time so two canaries reporting together promote a rollout once
  let chain: Promise<void> = Promise.resolve()
  const onReported = (nodeId: string, body: Record<string, unknown>) => {
    const version = body.version
    const status = body.status
    if (typeof version !== 'number' || typeof status !== 'string') return
    const text = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : null)
    chain = chain
      .then(async () => {
        await repo.putReport({
          nodeId,
          version,
          status,
          health: text('health'),
          reason: text('reason'),
          code: text('code'),
          at: ctx.clock.now(),
        })
        await rollouts.onReport(nodeId, version)
      })
      .catch((err) => ctx.logger.warn({ err: (err as Error).message, nodeId }, 'reported state not handled'))
  }
  ctx.bus.on('reported', onReported)
  return {
    async stop() {
      ctx.bus.off('reported', onReported)
      await chain
    },
  }
}
