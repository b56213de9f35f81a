import {
  AnomalyModels,
  type DesiredEnvelope,
  type DesiredState,
  type DesiredTarget,
  DesiredUplink,
  downTopic,
  encodeMessage,
  FoglineError,
  groupDesiredTopic,
  PipelineConfig,
  verifyWithKeySet,
} from '@fogline/protocol'
import { z } from 'zod'
import type { ControlContext } from './context.js'
import type { TrustedKeys } from './keys.js'
import type { ControlRepo, DesiredRow } from './repo.js'

export const topicFor = (t: DesiredTarget): string =>
  'node' in t ? downTopic(t.node, 'desired') : groupDesiredTopic(t.group)

/** Turn zod issues into the API's error: FOG_DESIRED_INVALID with the field. */
export function invalid(err: z.ZodError, prefix = ''): FoglineError {
  const i = err.issues[0]
  const field = [prefix, ...(i?.path ?? []).map(String)].filter(Boolean).join('.')
  return new FoglineError('FOG_DESIRED_INVALID', `${field || 'body'}: ${i?.message ?? 'invalid'}`, { field })
}

/** Check content early (pipeline envelopes, models, uplink fields) so a typo is a 400, not a node rejection. */
function checkContent(doc: DesiredState): void {
  if (doc.pipelines === undefined && doc.models === undefined && doc.uplink === undefined && !doc.keys)
    throw new FoglineError(
      'FOG_DESIRED_INVALID',
      'a desired-state document needs pipelines, models, uplink or keys',
      {
        field: 'doc.pipelines',
      },
    )
  const checks: Array<[unknown, z.ZodType, string]> = [
    [doc.pipelines, z.array(PipelineConfig), 'pipelines'],
    [doc.models, AnomalyModels, 'models'],
    [doc.uplink, DesiredUplink, 'uplink'],
  ]
  for (const [v, schema, field] of checks) {
    if (v === undefined) continue
    const r = schema.safeParse(v)
    if (!r.success) throw invalid(r.error, field)
  }
}

/**
 * Verifies, stores and publishes operator-signed desired-state versions. The broker retains the newest
 * envelope per topic, so a node that is offline now gets it when it reconnects. The cloud signs nothing.
 * Lifecycle: create → accept / publish → (cloud stops).
 */
export class DesiredService {
  constructor(
    private readonly ctx: Pick<ControlContext, 'clock' | 'logger' | 'publish'>,
    private readonly repo: ControlRepo,
    readonly trust: TrustedKeys,
  ) {}

  /** The version number the next document must carry (operators sign it into the document). */
  async nextVersion(): Promise<number> {
    const [last] = await this.repo.listVersions({ limit: 1 })
    return (last?.version ?? 0) + 1
  }

  /**
   * Accept a signed envelope: trusted key, signature, expiry and scopes (verifyWithKeySet on the cloud's
   * clock), content, and the version being the next one (else FOG_VERSION_REPLAY naming it); store it
   * and publish unless held for a canary. A rotation document also rotates the cloud's own trust.
   */
  async accept(envelope: unknown, meta: { rolloutId?: string; hold?: boolean } = {}): Promise<DesiredRow> {
    const { doc, key } = verifyWithKeySet(envelope, this.trust.current(), this.ctx.clock.now())
    checkContent(doc)
    if (doc.keys && meta.hold)
      throw new FoglineError(
        'FOG_API_BAD_REQUEST',
        'a key rotation is pushed directly, not through a rollout',
        {
          field: 'doc.keys',
        },
      )
    const row = await this.repo.createVersion(
      (version) => {
        if (doc.version !== version)
          throw new FoglineError(
            'FOG_VERSION_REPLAY',
            `the document has version ${doc.version}; the next version is ${version}: sign it again with that`,
            { field: 'doc.version', next: version },
          )
        return { doc, envelope: envelope as DesiredEnvelope }
      },
      { rolloutId: meta.rolloutId ?? null, status: meta.hold ? 'canary' : 'published' },
    )
    if (doc.keys) this.trust.rotate(doc.keys)
    if (!meta.hold) await this.publish(row, topicFor(doc.target))
    this.ctx.logger.info(
      { version: row.version, target: doc.target, keyId: key.keyId, hold: meta.hold ?? false },
      'desired state accepted',
    )
    return row
  }

  /** Publish a stored version, retained [MQTT-3.3.1-5], on a topic (its own, or a canary node's). */
  async publish(row: DesiredRow, topic: string): Promise<void> {
    await this.ctx.publish(topic, encodeMessage(row.envelope), { qos: 1, retain: true })
  }

  /** Remove the retained message of a topic (zero-length retained payload [MQTT-3.3.1-10]). */
  async clear(topic: string): Promise<void> {
    await this.ctx.publish(topic, Buffer.alloc(0), { qos: 1, retain: true })
  }

  /**
   * After a (re)start the embedded broker has lost its retained messages: publish the newest version of every
   * target again. Nodes ignore a document they already handled (same signature).
   */
  async republishLatest(): Promise<number> {
    const rows = await this.repo.latestPublished()
    for (const r of rows) await this.publish(r, topicFor(r.target))
    return rows.length
  }
}
