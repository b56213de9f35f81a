import {
  type DesiredState,
  decodeMessage,
  desiredApplies,
  FoglineError,
  isFoglineError,
  parseDownTopic,
} from '@fogline/protocol'
import { type AgentCtx, persist, report } from './core.js'

export type TopicKind = 'node' | 'group'
type Raw = { doc?: { version?: unknown }; sig?: unknown } | null

/** The topic's kind when it is a desired-state topic for this node (or its group), else null. */
export function desiredKind(ctx: AgentCtx, topic: string): TopicKind | null {
  const t = parseDownTopic(topic)
  if (t?.kind !== 'desired') return null
  if ('group' in t ? t.group !== ctx.deps.group : t.nodeId !== ctx.deps.nodeId) return null
  return 'group' in t ? 'group' : 'node'
}

/** refuse a document: remember its signature (a retained copy is then ignored), log and report it */
export async function reject(
  ctx: AgentCtx,
  topic: string,
  kind: TopicKind,
  err: unknown,
  version: number | null,
  sig?: string,
): Promise<void> {
  const fe = isFoglineError(err) ? err : new FoglineError('FOG_DESIRED_INVALID', (err as Error).message)
  if (sig) {
    ctx.st.seen[kind] = sig
    await persist(ctx)
  }
  ctx.deps.logger?.warn({ topic, version, code: fe.code, reason: fe.message }, 'desired state rejected')
  report(ctx, {
    version: version ?? 0,
    status: 'rejected',
    code: fe.code,
    reason: fe.message,
    appliedVersion: ctx.st.applied?.version ?? null,
  })
}

/** What admission decided: a document to apply, a refusal, or nothing to do (already handled). */
export type Admission =
  | { doc: DesiredState; sig: string }
  | { refuse: unknown; version: number | null; sig?: string | undefined }
  | null

/**
 * Decode and verify a desired-state message: signature, trusted key (its not-after on this node's clock,
 * its scopes), target, and version (never a replay). Nothing is changed here.
 */
export function admit(ctx: AgentCtx, topic: string, kind: TopicKind, payload: Buffer): Admission {
  const { st, deps } = ctx
  let env: Raw
  try {
    env = (
      payload[0] === 0x7b ? JSON.parse(payload.toString('utf8')) : decodeMessage(payload, { topic })
    ) as Raw
  } catch (err) {
    const msg = `desired state does not decode: ${(err as Error).message}`
    return { refuse: new FoglineError('FOG_DESIRED_INVALID', msg), version: null }
  }
  const sig = typeof env?.sig === 'string' ? env.sig : undefined
  const claimed = typeof env?.doc?.version === 'number' ? env.doc.version : null
  // Ed25519 signatures are deterministic: same signature = same document, e.g. the retained copy again on reconnect
  if (sig && (st.seen[kind] === sig || st.applied?.sig === sig)) {
    deps.logger?.debug?.({ topic, version: claimed }, 'desired state already handled; ignored')
    return null
  }
  let doc: DesiredState
  try {
    doc = ctx.keys.verify(env, deps.clock.now()).doc
  } catch (err) {
    return { refuse: err, version: claimed, sig }
  }
  const bad = targetError(ctx, doc) ?? replayError(ctx, doc)
  return bad ? { refuse: bad, version: doc.version, sig } : { doc, sig: sig! }
}

function targetError(ctx: AgentCtx, doc: DesiredState): FoglineError | null {
  const { nodeId, group } = ctx.deps
  if (desiredApplies(doc, nodeId, group)) return null
  const who = 'node' in doc.target ? `node ${doc.target.node}` : `group ${doc.target.group}`
  return new FoglineError(
    'FOG_DESIRED_INVALID',
    `version ${doc.version} is for ${who}, not this node (${nodeId}, group ${group})`,
    { field: 'target' },
  )
}

function replayError(ctx: AgentCtx, doc: DesiredState): FoglineError | null {
  const { st } = ctx
  if (doc.rollback) {
    // a rollback may carry an older version, but never an older date: a captured one cannot be replayed later
    const since = Math.max(st.applied?.createdAt ?? 0, st.lastGood?.createdAt ?? 0)
    if (doc.createdAt > since) return null
    return new FoglineError(
      'FOG_VERSION_REPLAY',
      `rollback version ${doc.version} was created before the applied document; refused as a replay`,
      { field: 'createdAt' },
    )
  }
  if (doc.version > st.highest) return null
  return new FoglineError(
    'FOG_VERSION_REPLAY',
    `version ${doc.version} is not newer than version ${st.highest} already applied; refused as a replay (mark it rollback to downgrade)`,
    { field: 'version' },
  )
}
