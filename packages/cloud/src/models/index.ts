import { type DesiredTarget, FoglineError } from '@fogline/protocol'
import type { FastifyInstance } from 'fastify'
import type { Control, ControlContext } from '../control/index.js'
import { type HttpRoom, noteAudit, oa } from '../shared/index.js'
import { cronOnClock } from './schedule.js'
import { Trainer, type TrainResult } from './trainer.js'

export { better, cleanWindows, fitClass, judge } from './fit.js'
export type { ModelOutcome, TrainResult } from './trainer.js'

/** The models room: the training job (scheduled and on demand) and its route. */
export interface Models {
  room: HttpRoom
  /** null when the config has no `training` section */
  trainer: Trainer | null
  close(): void
}

/**
 * Start the models room. With `training` configured it holds the cloud's models-only signing key and runs
 * the schedule on the cloud's clock (each target in `training.targets`); POST /api/models/train runs one
 * target on demand (`fogline train`). Lifecycle: startModels → (room mounted) → close.
 */
export function startModels(ctx: ControlContext, control: Pick<Control, 'desired' | 'repo'>): Models {
  const cfg = ctx.config.training
  const trainer = cfg
    ? new Trainer({ ...ctx, desired: control.desired, versions: (q) => control.repo.listVersions(q) }, cfg)
    : null
  const stops: (() => void)[] = []
  if (trainer && cfg?.schedule) {
    const runAll = async () => {
      for (const t of cfg.targets)
        await trainer.train(t).catch((err: unknown) => {
          ctx.logger.warn({ target: t, err: (err as Error).message }, 'scheduled training failed')
        })
    }
    stops.push(cronOnClock(cfg.schedule, ctx.clock, runAll))
  }
  const room: HttpRoom = {
    name: 'models',
    openapi: modelsOpenApi,
    routes: (app: FastifyInstance) => {
      app.post('/api/models/train', async (req): Promise<TrainResult> => {
        if (!trainer)
          throw new FoglineError(
            'FOG_CONFIG_INVALID',
            'this cloud has no `training` section: it trains nothing',
            {
              field: 'training',
            },
          )
        const target = targetOf(req.body)
        noteAudit(req, { target: 'node' in target ? `node:${target.node}` : `group:${target.group}` })
        return trainer.train(target)
      })
    },
  }
  return {
    room,
    trainer,
    close: () => {
      for (const s of stops) s()
    },
  }
}

const ID = /^[A-Za-z0-9_.:-]{1,64}$/

function targetOf(body: unknown): DesiredTarget {
  const b = (body ?? {}) as { node?: unknown; group?: unknown }
  const bad = (m: string) => new FoglineError('FOG_API_BAD_REQUEST', m, { field: 'body' })
  if ((b.node === undefined) === (b.group === undefined))
    throw bad('give {"node": ID} or {"group": G}, one of them')
  const v = b.node ?? b.group
  if (typeof v !== 'string' || !ID.test(v)) throw bad('a node id or group is 1-64 of [A-Za-z0-9_.:-]')
  return b.node !== undefined ? { node: v } : { group: v }
}

const judgement = {
  type: 'object',
  nullable: true,
  properties: {
    nll: { type: 'number', nullable: true },
    flagRate: { type: 'number', nullable: true },
    windows: { type: 'integer' },
  },
}

const modelsOpenApi = {
  paths: {
    '/api/models/train': {
      post: {
        'x-fogline-role': 'operator',
        'x-fogline-audit': 'models.train',
        summary:
          'Train the anomaly models of a node or group now: fit per-class candidates on its summaries, judge them against the models in force on held-back recent data, publish the better ones (signed with the cloud models-only key)',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { node: { type: 'string' }, group: { type: 'string' } },
                additionalProperties: false,
              },
            },
          },
        },
        responses: {
          200: oa.json({
            type: 'object',
            properties: {
              target: { type: 'object', additionalProperties: true },
              at: { type: 'integer' },
              published: { type: 'integer', nullable: true },
              dropped: { type: 'integer' },
              models: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    outcome: { type: 'string', enum: ['published', 'kept', 'no-data'] },
                    reason: { type: 'string' },
                    candidate: judgement,
                    current: judgement,
                    version: { type: 'integer', nullable: true },
                    trainedAt: { type: 'integer', nullable: true },
                  },
                },
              },
            },
          }),
          400: oa.error('bad target, or no training section'),
        },
      },
    },
  },
}
