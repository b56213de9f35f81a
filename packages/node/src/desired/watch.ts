import { type AgentCtx, applyContent, enqueue, persist, report } from './core.js'
import { type AppliedDoc, appliedFromGood, type Content, content } from './persisted.js'

/** The health window of a newly applied document: check every checkMs, keep it, or roll back. */
export function stopWatch(ctx: AgentCtx): void {
  if (ctx.watch) ctx.deps.clock.clearTimeout(ctx.watch.timer)
  ctx.watch = null
}

export function startWatch(ctx: AgentCtx, version: number, startedAt: number): void {
  stopWatch(ctx)
  ctx.deps.healthReset?.()
  ctx.watch = { timer: null, version }
  ctx.watch.timer = arm(ctx, version, startedAt, Math.min(ctx.checkMs, Math.max(ctx.windowMs, 1)))
}

function arm(ctx: AgentCtx, version: number, startedAt: number, ms: number): unknown {
  return ctx.deps.clock.setTimeout(() => {
    if (ctx.closed || ctx.watch?.version !== version) return
    void enqueue(ctx, () => checkHealth(ctx, version, startedAt))
  }, ms)
}

async function checkHealth(ctx: AgentCtx, version: number, startedAt: number): Promise<void> {
  const { st, deps } = ctx
  const a = st.applied
  if (ctx.closed || !a || a.version !== version || a.health !== 'pending') return
  let h: { ok: boolean; reason?: string }
  const final = deps.clock.now() - startedAt >= ctx.windowMs
  try {
    h = deps.health(final)
  } catch (err) {
    h = { ok: false, reason: `health check threw: ${(err as Error).message}` }
  }
  if (!h.ok) return rollBack(ctx, a, h.reason ?? 'health check failed')
  if (final) {
    ctx.watch = null
    a.health = 'ok'
    st.lastGood = { ...content(a), version: a.version, createdAt: a.createdAt }
    await persist(ctx)
    deps.logger?.info({ version }, 'desired state healthy; it is now the last good version')
    report(ctx, { version, status: 'applied', health: 'ok', appliedVersion: version, target: a.target })
    return
  }
  if (ctx.watch?.version === version) ctx.watch.timer = arm(ctx, version, startedAt, ctx.checkMs)
}

async function rollBack(ctx: AgentCtx, bad: AppliedDoc, reason: string): Promise<void> {
  const { st, deps } = ctx
  stopWatch(ctx)
  const good = st.lastGood
  const back: Content = good ?? {}
  try {
    applyContent(ctx, back, deps.currentPipelines())
  } catch (err) {
    deps.logger?.warn({ err: (err as Error).message }, 'rolling back failed too; the new pipelines stay')
  }
  st.applied =
    good && good.version !== null ? appliedFromGood({ ...good, version: good.version }, bad.target) : null
  await persist(ctx)
  deps.logger?.warn(
    { version: bad.version, reason, appliedVersion: good?.version ?? null },
    'desired state rolled back',
  )
  report(ctx, {
    version: bad.version,
    status: 'rolled-back',
    reason: `health check failed: ${reason}; back to ${good?.version != null ? `version ${good.version}` : 'the node config file'}`,
    code: 'FOG_HEALTH_FAILED',
    appliedVersion: good?.version ?? null,
    target: bad.target,
  })
}
