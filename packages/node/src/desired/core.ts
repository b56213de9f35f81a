import { type DesiredReport, DesiredUplink } from '@fogline/protocol'
import type { NodeKeys } from './keys.js'
import { type Content, DESIRED_STATE_KEY, type Persisted } from './persisted.js'
import type { DesiredAgentDeps } from './types.js'

/** One agent's state, shared by its parts (admission, apply, health watch); all work runs on `chain`. */
export interface AgentCtx {
  readonly deps: DesiredAgentDeps
  readonly st: Persisted
  readonly keys: NodeKeys
  readonly windowMs: number
  readonly checkMs: number
  chain: Promise<void>
  watch: { timer: unknown; version: number } | null
  closed: boolean
}

export function report(ctx: AgentCtx, body: Omit<DesiredReport, 'ts'>): void {
  const r: DesiredReport = { ...body, ts: ctx.deps.clock.now() }
  try {
    ctx.deps.report(r)
  } catch (err) {
    ctx.deps.logger?.warn({ err: (err as Error).message }, 'desired-state report not published')
  }
}

export const persist = (ctx: AgentCtx): Promise<void> => ctx.deps.putState(DESIRED_STATE_KEY, ctx.st)

/** a failure on the chain is logged, never rethrown: the uplink does not await the agent */
export const chainError =
  (ctx: AgentCtx) =>
  (err: unknown): void => {
    ctx.deps.logger?.warn({ err: (err as Error).message }, 'desired-state agent error')
  }

/** run `fn` after everything queued before */
export function enqueue(ctx: AgentCtx, fn: () => Promise<void>): Promise<void> {
  ctx.chain = ctx.chain.then(fn).catch(chainError(ctx))
  return ctx.chain
}

/** apply all of a document's content or none of it; returns the parts this node does not apply */
export function applyContent(ctx: AgentCtx, c: Content, prevPipelines: unknown): string[] {
  const { deps } = ctx
  const ignored: string[] = []
  if (c.pipelines !== undefined) deps.applyPipelines(c.pipelines)
  try {
    if (c.models !== undefined) {
      if (deps.applyModels) deps.applyModels(c.models)
      else ignored.push('models')
    }
    if (c.uplink !== undefined) {
      if (deps.applyUplink) deps.applyUplink(DesiredUplink.parse(c.uplink))
      else ignored.push('uplink')
    }
  } catch (err) {
    // all or nothing: put the pipelines back before refusing the document
    if (c.pipelines !== undefined) deps.applyPipelines(prevPipelines)
    throw err
  }
  return ignored
}
