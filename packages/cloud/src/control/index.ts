import type { FastifyInstance } from 'fastify'
import { openApiDocument } from '../api/openapi.js'
import type { ControlContext } from '../context.js'
import { DesiredService } from './desired.js'
import { loadSigningKey, type SigningKey } from './keys.js'
import { controlOpenApiPaths } from './openapi.js'
import { openPostgresControlRepo } from './postgres.js'
import { type ControlRepo, openSqliteControlRepo } from './repo.js'
import { Rollouts } from './rollout.js'
import { registerRoutes } from './routes.js'

export { DesiredContentInput, DesiredPostInput, DesiredService, topicFor } from './desired.js'
export { loadSigningKey, type SigningKey } from './keys.js'
export { openPostgresControlRepo } from './postgres.js'
export * from './repo.js'
export { type RolloutInput, Rollouts, type RolloutView } from './rollout.js'

export interface ControlOptions {
  /** use this repo instead of control tables beside the cloud's SQLite file */
  repo?: ControlRepo
  /** use this key instead of config.signingKeyFile */
  key?: SigningKey
}

/**
 * Desired state and rollouts on the cloud: the routes, the signing key, the control tables, and the
 * reported-state listener that moves rollouts on. The cloud calls this once its MQTT client is up.
 * @example await registerControlRoutes(app, ctx) // then POST /api/desired { target: { node: 'n1' }, pipelines }
 */
export async function registerControlRoutes(
  app: FastifyInstance,
  ctx: ControlContext,
  opts: ControlOptions = {},
): Promise<{ desired: DesiredService; rollouts: Rollouts; repo: ControlRepo }> {
  const key = opts.key ?? loadSigningKey(ctx.config.signingKeyFile)
  if (!key.persistent)
    ctx.logger.warn(
      { keyId: key.keyId },
      'no signingKeyFile: desired state is signed with a key made for this run; nodes need GET /api/desired/public-key',
    )
  let repo = opts.repo
  if (!repo) {
    const s = ctx.config.store
    repo =
      'sqlite' in s ? openSqliteControlRepo(s.sqlite) : await openPostgresControlRepo({ url: s.postgres })
  }
  const desired = new DesiredService(ctx, repo, key)
  const rollouts = new Rollouts(ctx, repo, desired)
  await rollouts.recover()

  // reports are handled one at a time so two canaries reporting together promote a rollout once
  let chain: Promise<void> = Promise.resolve()
  const onReported = (nodeId: string, body: Record<string, unknown>) => {
    const version = body.version
    const status = body.status
    if (typeof version !== 'number' || typeof status !== 'string') return
    chain = chain
      .then(async () => {
        await repo.putReport({
          nodeId,
          version,
          status,
          health: typeof body.health === 'string' ? body.health : null,
          reason: typeof body.reason === 'string' ? body.reason : null,
          code: typeof body.code === 'string' ? body.code : null,
          at: ctx.clock.now(),
        })
        await rollouts.onReport(nodeId, version)
      })
      .catch((err) => ctx.logger.warn({ err: (err as Error).message, nodeId }, 'reported state not handled'))
  }
  ctx.bus.on('reported', onReported)

  registerRoutes(app, ctx, desired, repo, rollouts)
  // the cloud serves one OpenAPI document; the control routes add their paths to it
  Object.assign(openApiDocument.paths, controlOpenApiPaths)

  const republished = await desired.republishLatest().catch((err) => {
    ctx.logger.warn({ err: (err as Error).message }, 'could not republish the latest desired state')
    return 0
  })
  if (republished) ctx.logger.info({ count: republished }, 'latest desired state republished (retained)')

  const ownRepo = !opts.repo
  ctx.onClose(async () => {
    ctx.bus.off('reported', onReported)
    rollouts.close()
    await chain
    if (ownRepo) await repo.close()
  })
  return { desired, rollouts, repo }
}
