import type { DesiredState } from '@fogline/protocol'
import { admit, desiredKind, reject, type TopicKind } from './admit.js'
import { type AgentCtx, applyContent, chainError, enqueue, persist, report } from './core.js'
import { NodeKeys } from './keys.js'
import { appliedFromGood, content, DESIRED_STATE_KEY, emptyPersisted, type Persisted } from './persisted.js'
import type { DesiredAgent, DesiredAgentDeps } from './types.js'
import { startWatch, stopWatch } from './watch.js'

export { DESIRED_STATE_KEY, persistedDesiredPipelines } from './persisted.js'
export type { DesiredAgent, DesiredAgentDeps, DesiredAgentLogger, DesiredAgentStatus } from './types.js'

/**
 * The node's side of desired state: verify (trusted key, signature, expiry, scopes, target, version, schema) → apply atomically →
 * report → watch health for healthWindowMs → keep, or roll back to the last good content.
 * Node and group documents share one version counter (the cloud's); whichever is higher wins.
 * @example const agent = createDesiredAgent({ nodeId, group, keys: config.desiredKeys, clock, getState, putState, ... })
 *          uplinkOnDown = (topic, payload) => void agent.handle(topic, payload)
 */
export function createDesiredAgent(deps: DesiredAgentDeps): DesiredAgent {
  const ctx: AgentCtx = {
    deps,
    // a deep copy: the KV may hand out its cached object, and no state may be shared between agents
    st: {
      ...emptyPersisted(),
      ...structuredClone((deps.getState(DESIRED_STATE_KEY) as Persisted | undefined) ?? {}),
    },
    keys: new NodeKeys(deps.keys, deps.getState, deps.putState),
    windowMs: deps.healthWindowMs ?? 10_000,
    checkMs: Math.max(1, deps.healthCheckMs ?? 1000),
    chain: Promise.resolve(),
    watch: null,
    closed: false,
  }
  restore(ctx)
  const { st } = ctx
  return {
    // never rejects: the uplink calls this without awaiting; failures are logged and reported
    handle: (topic, payload) => enqueue(ctx, () => processMessage(ctx, topic, payload)),
    appliedVersion: () => st.applied?.version ?? null,
    status: () => ({
      appliedVersion: st.applied?.version ?? null,
      health: st.applied?.health ?? null,
      highestVersion: st.highest,
      lastGoodVersion: st.lastGood?.version ?? null,
    }),
    close() {
      ctx.closed = true
      stopWatch(ctx)
    },
  }
}

/** a restart resumes the applied document (the node starts from its config file) */
function restore(ctx: AgentCtx): void {
  const { st, deps } = ctx
  const a = st.applied
  if (!a) return
  try {
    applyContent(ctx, content(a), deps.currentPipelines())
    deps.logger?.info({ version: a.version }, 'desired state restored')
    if (a.health === 'pending') startWatch(ctx, a.version, deps.clock.now())
  } catch (err) {
    deps.logger?.warn(
      { version: a.version, err: (err as Error).message },
      'persisted desired state no longer applies',
    )
    const good = st.lastGood
    st.applied = null
    if (good && good.version !== null) {
      try {
        applyContent(ctx, good, deps.currentPipelines())
        st.applied = appliedFromGood({ ...good, version: good.version }, a.target)
      } catch {}
    }
    ctx.chain = persist(ctx).catch(chainError(ctx))
  }
}

async function processMessage(ctx: AgentCtx, topic: string, payload: Buffer): Promise<void> {
  if (ctx.closed) return
  const kind = desiredKind(ctx, topic)
  // an empty retained message clears the topic [MQTT-3.3.1-10]; nothing to apply
  if (!kind || payload.length === 0) return
  const adm = admit(ctx, topic, kind, payload)
  if (!adm) return
  if ('refuse' in adm) return reject(ctx, topic, kind, adm.refuse, adm.version, adm.sig)
  return applyDoc(ctx, topic, kind, adm.doc, adm.sig)
}

/** apply an admitted document all or nothing, persist, report, and start its health window */
async function applyDoc(ctx: AgentCtx, topic: string, kind: TopicKind, doc: DesiredState, sig: string) {
  const { st, deps } = ctx
  const a = st.applied
  const prev = deps.currentPipelines()
  deps.healthBeforeChange?.()
  let ignored: string[]
  try {
    ignored = applyContent(ctx, content(doc), prev)
  } catch (err) {
    return reject(ctx, topic, kind, err, doc.version, sig)
  }
  // a document still in its health window never becomes the last good one
  if (a && a.health === 'ok') st.lastGood = { ...content(a), version: a.version, createdAt: a.createdAt }
  else if (!st.lastGood) st.lastGood = { pipelines: prev, version: null, createdAt: 0 }
  const healthy = ctx.windowMs <= 0
  // what runs now, in full: a document without pipelines (models only, say) keeps the running ones, so a
  // restart or a later rollback to it restores the pipelines too, not the node's config file
  const effective = content({
    pipelines: doc.pipelines !== undefined ? doc.pipelines : prev,
    models: doc.models ?? a?.models,
    uplink: doc.uplink ?? a?.uplink,
  })
  const health = healthy ? 'ok' : 'pending'
  st.applied = {
    ...effective,
    version: doc.version,
    createdAt: doc.createdAt,
    target: doc.target,
    sig,
    health,
  }
  if (healthy) st.lastGood = { ...effective, version: doc.version, createdAt: doc.createdAt }
  st.highest = Math.max(st.highest, doc.version)
  st.seen[kind] = sig
  if (doc.keys) await ctx.keys.rotate(doc.keys)
  await persist(ctx)
  deps.logger?.info({ version: doc.version, target: doc.target, ignored }, 'desired state applied')
  report(ctx, {
    version: doc.version,
    status: 'applied',
    health,
    appliedVersion: doc.version,
    target: doc.target,
    ...(ignored.length ? { reason: `not applied by this node: ${ignored.join(', ')}` } : {}),
  })
  if (!healthy) startWatch(ctx, doc.version, deps.clock.now())
  else stopWatch(ctx)
}
