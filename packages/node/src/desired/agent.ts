import {
  type DesiredReport,
  type DesiredState,
  type DesiredTarget,
  DesiredUplink,
  decodeMessage,
  desiredApplies,
  FoglineError,
  isFoglineError,
  parseDownTopic,
} from '@fogline/protocol'
import { NodeKeys } from './keys.js'
import type { DesiredAgent, DesiredAgentDeps } from './types.js'

export type { DesiredAgent, DesiredAgentDeps, DesiredAgentLogger, DesiredAgentStatus } from './types.js'

/** Key of the agent's record in the outbox's state KV (survives restarts). */
export const DESIRED_STATE_KEY = 'desired.agent'

interface Content {
  pipelines?: unknown
  models?: Record<string, unknown> | undefined
  uplink?: Record<string, unknown> | undefined
}
interface AppliedDoc extends Content {
  version: number
  createdAt: number
  target: DesiredTarget
  sig: string
  health: 'pending' | 'ok'
}
interface Persisted {
  applied: AppliedDoc | null
  /** what a failed health check goes back to; version null = the node's own config file */
  lastGood: (Content & { version: number | null; createdAt: number }) | null
  highest: number
  /** signature of the last document handled per topic kind: a retained redelivery is ignored silently */
  seen: { node?: string; group?: string }
}

const empty = (): Persisted => ({ applied: null, lastGood: null, highest: 0, seen: {} })

/**
 * The node's side of desired state: verify (trusted key, signature, expiry, scopes, target, version, schema) → apply atomically →
 * report → watch health for healthWindowMs → keep, or roll back to the last good content.
 * Node and group documents share one version counter (the cloud's); whichever is higher wins.
 * @example const agent = createDesiredAgent({ nodeId, group, keys: config.desiredKeys, clock, getState, putState, ... })
 *          uplinkOnDown = (topic, payload) => void agent.handle(topic, payload)
 */
export function createDesiredAgent(deps: DesiredAgentDeps): DesiredAgent {
  const { clock, logger } = deps
  const windowMs = deps.healthWindowMs ?? 10_000
  const checkMs = Math.max(1, deps.healthCheckMs ?? 1000)
  // a deep copy: the KV may hand out its cached object, and no state may be shared between agents
  const st: Persisted = {
    ...empty(),
    ...structuredClone((deps.getState(DESIRED_STATE_KEY) as Persisted | undefined) ?? {}),
  }
  const keys = new NodeKeys(deps.keys, deps.getState, deps.putState)
  let chain: Promise<void> = Promise.resolve()
  let watch: { timer: unknown; version: number } | null = null
  let closed = false

  const report = (body: Omit<DesiredReport, 'ts'>) => {
    const r: DesiredReport = { ...body, ts: clock.now() }
    try {
      deps.report(r)
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'desired-state report not published')
    }
  }
  const persist = () => deps.putState(DESIRED_STATE_KEY, st)

  function applyContent(c: Content, prevPipelines: unknown): string[] {
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

  function stopWatch(): void {
    if (watch) clock.clearTimeout(watch.timer)
    watch = null
  }

  function startWatch(version: number, startedAt: number): void {
    stopWatch()
    deps.healthReset?.()
    const tick = () => {
      if (closed || !watch || watch.version !== version) return
      chain = chain.then(() => checkHealth(version, startedAt)).catch(onChainError)
    }
    watch = { timer: clock.setTimeout(tick, Math.min(checkMs, Math.max(windowMs, 1))), version }
  }

  async function checkHealth(version: number, startedAt: number): Promise<void> {
    const a = st.applied
    if (closed || !a || a.version !== version || a.health !== 'pending') return
    let h: { ok: boolean; reason?: string }
    const final = clock.now() - startedAt >= windowMs
    try {
      h = deps.health(final)
    } catch (err) {
      h = { ok: false, reason: `health check threw: ${(err as Error).message}` }
    }
    if (!h.ok) return rollBack(a, h.reason ?? 'health check failed')
    if (final) {
      watch = null
      a.health = 'ok'
      st.lastGood = { ...content(a), version: a.version, createdAt: a.createdAt }
      await persist()
      logger?.info({ version }, 'desired state healthy; it is now the last good version')
      report({ version, status: 'applied', health: 'ok', appliedVersion: version, target: a.target })
      return
    }
    if (watch?.version === version) {
      watch.timer = clock.setTimeout(() => {
        if (closed || watch?.version !== version) return
        chain = chain.then(() => checkHealth(version, startedAt)).catch(onChainError)
      }, checkMs)
    }
  }

  async function rollBack(bad: AppliedDoc, reason: string): Promise<void> {
    stopWatch()
    const good = st.lastGood
    const back: Content = good ?? {}
    try {
      applyContent(back, deps.currentPipelines())
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'rolling back failed too; the new pipelines stay')
    }
    st.applied =
      good && good.version !== null
        ? {
            ...content(good),
            version: good.version,
            createdAt: good.createdAt,
            target: bad.target,
            sig: '',
            health: 'ok',
          }
        : null
    await persist()
    logger?.warn(
      { version: bad.version, reason, appliedVersion: good?.version ?? null },
      'desired state rolled back',
    )
    report({
      version: bad.version,
      status: 'rolled-back',
      reason: `health check failed: ${reason}; back to ${good?.version != null ? `version ${good.version}` : 'the node config file'}`,
      code: 'FOG_HEALTH_FAILED',
      appliedVersion: good?.version ?? null,
      target: bad.target,
    })
  }

  async function processMessage(topic: string, payload: Buffer): Promise<void> {
    if (closed) return
    const t = parseDownTopic(topic)
    if (t?.kind !== 'desired') return
    const kind = 'group' in t ? 'group' : 'node'
    if ('group' in t ? t.group !== deps.group : t.nodeId !== deps.nodeId) return
    // an empty retained message clears the topic [MQTT-3.3.1-10]; nothing to apply
    if (payload.length === 0) return

    type Raw = { doc?: { version?: unknown }; sig?: unknown } | null
    let env: Raw
    const reject = async (err: unknown, version: number | null, sig?: string) => {
      const fe = isFoglineError(err) ? err : new FoglineError('FOG_DESIRED_INVALID', (err as Error).message)
      if (sig) {
        st.seen[kind] = sig
        await persist()
      }
      logger?.warn({ topic, version, code: fe.code, reason: fe.message }, 'desired state rejected')
      report({
        version: version ?? 0,
        status: 'rejected',
        code: fe.code,
        reason: fe.message,
        appliedVersion: st.applied?.version ?? null,
      })
    }
    try {
      env = (
        payload[0] === 0x7b ? JSON.parse(payload.toString('utf8')) : decodeMessage(payload, { topic })
      ) as Raw
    } catch (err) {
      return reject(
        new FoglineError('FOG_DESIRED_INVALID', `desired state does not decode: ${(err as Error).message}`),
        null,
      )
    }
    const sig = typeof env?.sig === 'string' ? env.sig : undefined
    const claimed = typeof env?.doc?.version === 'number' ? env.doc.version : null
    // Ed25519 signatures are deterministic: same signature = same document, e.g. the retained copy again on reconnect
    if (sig && (st.seen[kind] === sig || st.applied?.sig === sig)) {
      logger?.debug?.({ topic, version: claimed }, 'desired state already handled; ignored')
      return
    }
    let doc: DesiredState
    try {
      // signature, trusted key, its not-after on this node's clock, and its scopes for what the document changes
      doc = keys.verify(env, clock.now()).doc
    } catch (err) {
      return reject(err, claimed, sig)
    }
    if (!desiredApplies(doc, deps.nodeId, deps.group)) {
      const who = 'node' in doc.target ? `node ${doc.target.node}` : `group ${doc.target.group}`
      return reject(
        new FoglineError(
          'FOG_DESIRED_INVALID',
          `version ${doc.version} is for ${who}, not this node (${deps.nodeId}, group ${deps.group})`,
          {
            field: 'target',
          },
        ),
        doc.version,
        sig,
      )
    }
    const a = st.applied
    if (doc.rollback) {
      // a rollback may carry an older version, but never an older date: a captured one cannot be replayed later
      const since = Math.max(a?.createdAt ?? 0, st.lastGood?.createdAt ?? 0)
      if (doc.createdAt <= since)
        return reject(
          new FoglineError(
            'FOG_VERSION_REPLAY',
            `rollback version ${doc.version} was created before the applied document; refused as a replay`,
            {
              field: 'createdAt',
            },
          ),
          doc.version,
          sig,
        )
    } else if (doc.version <= st.highest) {
      return reject(
        new FoglineError(
          'FOG_VERSION_REPLAY',
          `version ${doc.version} is not newer than version ${st.highest} already applied; refused as a replay (mark it rollback to downgrade)`,
          { field: 'version' },
        ),
        doc.version,
        sig,
      )
    }

    const prev = deps.currentPipelines()
    deps.healthBeforeChange?.()
    let ignored: string[]
    try {
      ignored = applyContent(content(doc), prev)
    } catch (err) {
      return reject(err, doc.version, sig)
    }
    // a document still in its health window never becomes the last good one
    if (a && a.health === 'ok') st.lastGood = { ...content(a), version: a.version, createdAt: a.createdAt }
    else if (!st.lastGood) st.lastGood = { pipelines: prev, version: null, createdAt: 0 }
    const healthy = windowMs <= 0
    // what runs now, in full: a document without pipelines (models only, say) keeps the running ones, so a
    // restart or a later rollback to it restores the pipelines too, not the node's config file
    const effective = content({
      pipelines: doc.pipelines !== undefined ? doc.pipelines : prev,
      models: doc.models ?? a?.models,
      uplink: doc.uplink ?? a?.uplink,
    })
    st.applied = {
      ...effective,
      version: doc.version,
      createdAt: doc.createdAt,
      target: doc.target,
      sig: sig!,
      health: healthy ? 'ok' : 'pending',
    }
    if (healthy) st.lastGood = { ...effective, version: doc.version, createdAt: doc.createdAt }
    st.highest = Math.max(st.highest, doc.version)
    st.seen[kind] = sig!
    if (doc.keys) await keys.rotate(doc.keys)
    await persist()
    logger?.info({ version: doc.version, target: doc.target, ignored }, 'desired state applied')
    report({
      version: doc.version,
      status: 'applied',
      health: healthy ? 'ok' : 'pending',
      appliedVersion: doc.version,
      target: doc.target,
      ...(ignored.length ? { reason: `not applied by this node: ${ignored.join(', ')}` } : {}),
    })
    if (!healthy) startWatch(doc.version, clock.now())
    else stopWatch()
  }

  const onChainError = (err: unknown) => {
    logger?.warn({ err: (err as Error).message }, 'desired-state agent error')
  }

  // a restart resumes the applied document (the node starts from its config file)
  if (st.applied) {
    const a = st.applied
    try {
      applyContent(content(a), deps.currentPipelines())
      logger?.info({ version: a.version }, 'desired state restored')
      if (a.health === 'pending') startWatch(a.version, clock.now())
    } catch (err) {
      logger?.warn(
        { version: a.version, err: (err as Error).message },
        'persisted desired state no longer applies',
      )
      const good = st.lastGood
      st.applied = null
      if (good && good.version !== null) {
        try {
          applyContent(good, deps.currentPipelines())
          st.applied = {
            ...content(good),
            version: good.version,
            createdAt: good.createdAt,
            target: a.target,
            sig: '',
            health: 'ok',
          }
        } catch {}
      }
      chain = persist().catch(onChainError)
    }
  }

  return {
    handle(topic, payload) {
      // never rejects: the uplink calls this without awaiting; failures are logged and reported
      chain = chain.then(() => processMessage(topic, payload)).catch(onChainError)
      return chain
    },
    appliedVersion: () => st.applied?.version ?? null,
    status: () => ({
      appliedVersion: st.applied?.version ?? null,
      health: st.applied?.health ?? null,
      highestVersion: st.highest,
      lastGoodVersion: st.lastGood?.version ?? null,
    }),
    close() {
      closed = true
      stopWatch()
    },
  }
}

function content(c: Content): Content {
  const out: Content = {}
  if (c.pipelines !== undefined) out.pipelines = c.pipelines
  if (c.models !== undefined) out.models = c.models
  if (c.uplink !== undefined) out.uplink = c.uplink
  return out
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
