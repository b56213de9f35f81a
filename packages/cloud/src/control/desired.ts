import {
  AnomalyModels,
  DesiredContent,
  type DesiredState,
  type DesiredTarget,
  DesiredUplink,
  downTopic,
  encodeMessage,
  FoglineError,
  groupDesiredTopic,
  PipelineConfig,
  signDesired,
} from '@fogline/protocol'
import { z } from 'zod'
import type { ControlContext } from './context.js'
import type { SigningKey } from './keys.js'
import type { ControlRepo, DesiredRow } from './repo.js'

/** What POST /api/desired (and a rollout's `doc`) accepts: the content of a document. */
export const DesiredContentInput = DesiredContent.extend({
  /** checked here with the node's own model schema, so a bad model is a 400 now, not a rejection later */
  models: AnomalyModels.optional(),
  /** make the new version a copy of this older one's content, marked rollback */
  rollbackTo: z.number().int().positive().optional(),
})
export type DesiredContentInput = z.output<typeof DesiredContentInput>

export const DesiredPostInput = DesiredContentInput.extend({
  target: z.union([
    z.strictObject({ node: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/) }),
    z.strictObject({ group: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/) }),
  ]),
})

export const topicFor = (t: DesiredTarget): string =>
  'node' in t ? downTopic(t.node, 'desired') : groupDesiredTopic(t.group)

/** Turn zod issues into the API's error: FOG_DESIRED_INVALID with the field. */
export function invalid(err: z.ZodError, prefix = ''): FoglineError {
  const i = err.issues[0]
  const field = [prefix, ...(i?.path ?? []).map(String)].filter(Boolean).join('.')
  return new FoglineError('FOG_DESIRED_INVALID', `${field || 'body'}: ${i?.message ?? 'invalid'}`, { field })
}

/**
 * Signs and publishes desired-state versions. The broker retains the newest envelope per topic, so a node
 * that is offline now gets it when it reconnects. Lifecycle: create → createVersion / publish → (cloud stops).
 */
export class DesiredService {
  constructor(
    private readonly ctx: Pick<ControlContext, 'clock' | 'logger' | 'publish'>,
    private readonly repo: ControlRepo,
    readonly key: SigningKey,
  ) {}

  /** Check content early (pipeline envelopes, uplink fields) so a typo is a 400, not a node rejection. */
  async resolveContent(
    input: DesiredContentInput,
  ): Promise<Omit<DesiredState, 'version' | 'target' | 'createdAt'>> {
    let c: DesiredContentInput = input
    let rollback = false
    if (input.rollbackTo !== undefined) {
      const old = await this.repo.getVersion(input.rollbackTo)
      if (!old)
        throw new FoglineError('FOG_API_NOT_FOUND', `there is no desired-state version ${input.rollbackTo}`, {
          field: 'rollbackTo',
        })
      c = {
        ...(old.doc.pipelines !== undefined ? { pipelines: old.doc.pipelines } : {}),
        // an old version's models passed this same schema when it was made
        ...(old.doc.models !== undefined
          ? { models: old.doc.models as NonNullable<DesiredContentInput['models']> }
          : {}),
        ...(old.doc.uplink !== undefined ? { uplink: old.doc.uplink } : {}),
        note: input.note ?? `rollback to version ${input.rollbackTo}`,
      }
      rollback = true
    }
    if (c.pipelines === undefined && c.models === undefined && c.uplink === undefined)
      throw new FoglineError(
        'FOG_DESIRED_INVALID',
        'a desired-state document needs pipelines, models or uplink',
        {
          field: 'pipelines',
        },
      )
    if (c.pipelines !== undefined) {
      const r = z.array(PipelineConfig).safeParse(c.pipelines)
      if (!r.success) throw invalid(r.error, 'pipelines')
    }
    if (c.uplink !== undefined) {
      const r = DesiredUplink.safeParse(c.uplink)
      if (!r.success) throw invalid(r.error, 'uplink')
    }
    return {
      ...(c.pipelines !== undefined ? { pipelines: c.pipelines } : {}),
      ...(c.models !== undefined ? { models: c.models } : {}),
      ...(c.uplink !== undefined ? { uplink: c.uplink } : {}),
      ...(c.note !== undefined ? { note: c.note } : {}),
      ...(rollback ? { rollback: true } : {}),
    }
  }

  /** Store a new signed version (the next number of the one counter); publish unless held for a canary. */
  async createVersion(
    target: DesiredTarget,
    input: DesiredContentInput,
    meta: { rolloutId?: string; hold?: boolean } = {},
  ): Promise<DesiredRow> {
    const content = await this.resolveContent(input)
    const createdAt = this.ctx.clock.now()
    const row = await this.repo.createVersion(
      (version) => {
        const doc: DesiredState = { version, target, createdAt, ...content }
        return { doc, envelope: signDesired(doc, this.key.privateKey) }
      },
      { rolloutId: meta.rolloutId ?? null, status: meta.hold ? 'canary' : 'published' },
    )
    if (!meta.hold) await this.publish(row, topicFor(target))
    this.ctx.logger.info({ version: row.version, target, hold: meta.hold ?? false }, 'desired state created')
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
    // envelopes signed with another key (an in-memory key of an earlier run) would only be refused
    const rows = (await this.repo.latestPublished()).filter((r) => r.envelope.keyId === this.key.keyId)
    for (const r of rows) await this.publish(r, topicFor(r.target))
    return rows.length
  }
}
