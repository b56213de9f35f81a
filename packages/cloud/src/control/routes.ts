import { FoglineError } from '@fogline/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { noteAudit } from '../shared/index.js'
import type { Store } from '../store/index.js'
import type { ControlContext } from './context.js'
import { type DesiredService, invalid, topicFor } from './desired.js'
import type { ControlRepo, DesiredRow } from './repo.js'
import type { Rollouts } from './rollout.js'

const Id = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_.:-]')

const RolloutPost = z
  .strictObject({
    group: Id,
    canary: z.array(Id).min(1).optional(),
    canaryCount: z.number().int().positive().optional(),
    timeoutMs: z.number().int().positive().max(86_400_000).default(60_000),
    /** the operator-signed group document { doc, sig, keyId } */
    envelope: z.record(z.string(), z.unknown()),
  })
  .refine((v) => !(v.canary && v.canaryCount), {
    message: 'give canary or canaryCount, not both',
    path: ['canary'],
  })

const DesiredQuery = z.strictObject({
  node: Id.optional(),
  group: Id.optional(),
  limit: z.coerce.number().int().positive().max(1000).default(20),
})

const bad = (message: string, field?: string) =>
  new FoglineError('FOG_API_BAD_REQUEST', message, field ? { field } : {})

function parseBody<T extends z.ZodType>(
  schema: T,
  body: unknown,
  code: 'FOG_DESIRED_INVALID' | 'FOG_API_BAD_REQUEST',
): z.output<T> {
  if (body === undefined || body === null || typeof body !== 'object')
    throw bad('the request body must be a JSON object')
  const r = schema.safeParse(body)
  if (r.success) return r.data
  const e = invalid(r.error)
  throw code === 'FOG_DESIRED_INVALID' ? e : new FoglineError('FOG_API_BAD_REQUEST', e.message, e.where)
}

const targetName = (t: { node: string } | { group: string }) =>
  'node' in t ? `node:${t.node}` : `group:${t.group}`

const versionView = (r: DesiredRow) => ({
  version: r.version,
  target: r.target,
  topic: topicFor(r.target),
  status: r.status,
  rolloutId: r.rolloutId,
  createdAt: r.createdAt,
  keyId: r.envelope.keyId,
  doc: r.doc,
})

/**
 * Desired-state and rollout routes:
 * POST /api/desired (a signed envelope), GET /api/desired?node=|group=, GET /api/desired/next, GET /api/keys,
 * GET /api/desired/:version,
 * POST /api/rollouts, GET /api/rollouts?group=, GET /api/rollouts/:id.
 */
export function registerRoutes(
  app: FastifyInstance,
  ctx: Pick<ControlContext, 'store'>,
  svc: DesiredService,
  repo: ControlRepo,
  rollouts: Rollouts,
): void {
  app.get('/api/keys', async () => svc.trust.view())

  app.get('/api/desired/next', async () => ({ version: await svc.nextVersion() }))

  app.post('/api/desired', async (req, reply) => {
    const doc = (req.body as { doc?: { target?: unknown; version?: unknown } } | null)?.doc
    const t = doc?.target as { node: string } | { group: string } | undefined
    noteAudit(req, {
      ...(t && typeof t === 'object' ? { target: targetName(t) } : {}),
      ...(typeof doc?.version === 'number' ? { version: doc.version } : {}),
    })
    const row = await svc.accept(req.body)
    return reply.status(201).send(versionView(row))
  })

  app.get('/api/desired', async (req) => {
    const q = DesiredQuery.safeParse(req.query)
    if (!q.success)
      throw new FoglineError('FOG_API_BAD_REQUEST', invalid(q.error).message, invalid(q.error).where)
    const { node, group, limit } = q.data
    if (!node && !group) throw bad('give ?node=ID or ?group=NAME', 'node')
    if (node && group) throw bad('give ?node=ID or ?group=NAME, not both', 'group')
    return node ? nodeDesired(ctx.store, repo, node, limit) : groupDesired(ctx.store, repo, group!, limit)
  })

  app.get('/api/desired/:version', async (req) => {
    const v = Number((req.params as { version: string }).version)
    if (!Number.isInteger(v) || v <= 0) throw bad('version must be a positive integer', 'version')
    const row = await repo.getVersion(v)
    if (!row)
      throw new FoglineError('FOG_API_NOT_FOUND', `there is no desired-state version ${v}`, { version: v })
    return {
      ...versionView(row),
      envelope: row.envelope,
      reports: await repo.listReports({ version: v, limit: 10_000 }),
    }
  })

  rolloutRoutes(app, repo, rollouts)
}

/** POST /api/rollouts, GET /api/rollouts?group=, GET /api/rollouts/:id. */
function rolloutRoutes(app: FastifyInstance, repo: ControlRepo, rollouts: Rollouts): void {
  app.post('/api/rollouts', async (req, reply) => {
    const body = parseBody(RolloutPost, req.body, 'FOG_API_BAD_REQUEST')
    noteAudit(req, { target: `group:${body.group}` })
    const r = await rollouts.start({
      group: body.group,
      canary: body.canary,
      canaryCount: body.canaryCount,
      timeoutMs: body.timeoutMs,
      envelope: body.envelope,
    })
    noteAudit(req, { target: `group:${body.group}`, version: r.version })
    return reply.status(201).send(await rollouts.view(r.id))
  })

  app.get('/api/rollouts', async (req) => {
    const g = (req.query as { group?: unknown }).group
    if (g !== undefined && (typeof g !== 'string' || !Id.safeParse(g).success))
      throw bad('group must be a group name', 'group')
    return repo.listRollouts(typeof g === 'string' ? { group: g } : {})
  })

  app.get('/api/rollouts/:id', async (req) => {
    const id = (req.params as { id: string }).id
    const v = await rollouts.view(id)
    if (!v) throw new FoglineError('FOG_API_NOT_FOUND', `there is no rollout ${id}`, { rollout: id })
    return v
  })
}

/** GET /api/desired?node=: the node's versions (with its group's), the one that applies, and its reports. */
async function nodeDesired(store: Store, repo: ControlRepo, node: string, limit: number) {
  const n = await store.getNode(node)
  const g = n?.group ?? null
  const versions = await repo.listVersions(g ? { node, group: g, limit } : { node, limit })
  // the higher version of the node's and its group's published documents is the one that applies
  const current = versions.find((v) => v.status === 'published') ?? null
  const reports = await repo.listReports({ nodeId: node, limit })
  return {
    node,
    group: g,
    current: current ? versionView(current) : null,
    appliedVersion: n?.heartbeat?.configVersion ?? null,
    versions: versions.map(versionView),
    reports,
  }
}

/** GET /api/desired?group=: the group's versions, the current one, and each member's applied version and report. */
async function groupDesired(store: Store, repo: ControlRepo, group: string, limit: number) {
  const versions = await repo.listVersions({ group, limit })
  const current = versions.find((v) => v.status === 'published') ?? null
  const nodes = (await store.listNodes()).filter((n) => n.group === group)
  const reports = current ? await repo.listReports({ version: current.version, limit: 10_000 }) : []
  return {
    group,
    current: current ? versionView(current) : null,
    versions: versions.map(versionView),
    nodes: nodes.map((n) => ({
      nodeId: n.nodeId,
      appliedVersion: n.heartbeat?.configVersion ?? null,
      report: reports.find((r) => r.nodeId === n.nodeId) ?? null,
    })),
  }
}
