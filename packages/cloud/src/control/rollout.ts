import { randomUUID } from 'node:crypto'
import { downTopic, FoglineError, groupDesiredTopic } from '@fogline/protocol'
import type { ControlContext } from './context.js'
import type { DesiredService } from './desired.js'
import type { ControlRepo, ReportRow, RolloutRow } from './repo.js'

export interface RolloutInput {
  group: string
  /** explicit canary nodes, or … */
  canary?: string[] | undefined
  /** … this many of the group's known nodes (online first, then by id) */
  canaryCount?: number | undefined
  /** how long the canaries have to report applied and healthy */
  timeoutMs: number
  /** the operator-signed group document */
  envelope: unknown
}

/** A rollout as the API shows it. */
export interface RolloutView extends RolloutRow {
  /** the canaries' latest reports on this rollout's version */
  canaryStatus: Record<
    string,
    { status: string; health: string | null; reason: string | null; at: number } | null
  >
  /** every report on this version (canaries and, once promoted, the rest of the group) */
  reports: ReportRow[]
}

/**
 * Staged rollout per group: canary → (all canaries applied and healthy in time) completed, or → stopped.
 * The version is a group document; during the canary stage it is published only on the canaries' node
 * topics, and on the group topic once they are healthy. A rejected or rolled-back canary, or the time
 * limit, stops it and clears the canaries' retained copy so an offline canary never picks it up later.
 * Lifecycle: start → onReport* / timeout → completed | stopped.
 */
export class Rollouts {
  private readonly timers = new Map<string, unknown>()
  private readonly active = new Map<string, RolloutRow>()

  constructor(
    private readonly ctx: Pick<ControlContext, 'clock' | 'logger' | 'store'>,
    private readonly repo: ControlRepo,
    private readonly desired: DesiredService,
  ) {}

  /** Rollouts left in 'canary' by a previous run cannot be judged any more: stop them. */
  async recover(): Promise<void> {
    for (const r of await this.repo.listRollouts({ state: 'canary' }))
      await this.finish(r, 'stopped', 'the cloud restarted while the canary stage was running')
  }

  async start(input: RolloutInput): Promise<RolloutRow> {
    const canary = await this.pickCanary(input)
    const id = randomUUID()
    const now = this.ctx.clock.now()
    const target = (input.envelope as { doc?: { target?: { group?: unknown } } } | null)?.doc?.target
    if (target?.group !== input.group)
      throw new FoglineError('FOG_API_BAD_REQUEST', `the signed document must target group ${input.group}`, {
        field: 'envelope.doc.target',
      })
    const row = await this.desired.accept(input.envelope, { rolloutId: id, hold: true })
    const r: RolloutRow = {
      id,
      group: input.group,
      version: row.version,
      canary,
      state: 'canary',
      timeoutMs: input.timeoutMs,
      startedAt: now,
      updatedAt: now,
      reason: null,
    }
    await this.repo.putRollout(r)
    this.active.set(id, r)
    this.timers.set(
      id,
      this.ctx.clock.setTimeout(() => void this.onTimeout(id), input.timeoutMs),
    )
    for (const n of canary) await this.desired.publish(row, downTopic(n, 'desired'))
    this.ctx.logger.info({ rollout: id, group: input.group, version: row.version, canary }, 'rollout started')
    return r
  }

  private async pickCanary(input: RolloutInput): Promise<string[]> {
    if (input.canary && input.canary.length > 0) return [...new Set(input.canary)]
    const n = input.canaryCount ?? 1
    const nodes = (await this.ctx.store.listNodes()).filter((x) => x.group === input.group)
    if (nodes.length === 0)
      throw new FoglineError(
        'FOG_API_BAD_REQUEST',
        `group ${input.group} has no known nodes to pick canaries from; name them in "canary"`,
        { field: 'canaryCount' },
      )
    nodes.sort(
      (a, b) => Number(b.declaredOnline) - Number(a.declaredOnline) || a.nodeId.localeCompare(b.nodeId),
    )
    return nodes.slice(0, Math.max(1, Math.min(n, nodes.length))).map((x) => x.nodeId)
  }

  /** A node's report arrived (already stored): move a rollout in its canary stage on. */
  async onReport(nodeId: string, version: number): Promise<void> {
    for (const r of this.active.values()) {
      if (r.version !== version || r.state !== 'canary' || !r.canary.includes(nodeId)) continue
      const reports = await this.repo.listReports({ version })
      const byNode = new Map(reports.map((x) => [x.nodeId, x]))
      const failed = r.canary
        .map((n) => byNode.get(n))
        .find((x) => x && (x.status === 'rejected' || x.status === 'rolled-back'))
      if (failed) {
        await this.finish(
          r,
          'stopped',
          `canary ${failed.nodeId} ${failed.status}: ${failed.reason ?? 'no reason given'}`,
        )
        continue
      }
      const healthy = r.canary.every((n) => {
        const x = byNode.get(n)
        return x?.status === 'applied' && x.health === 'ok'
      })
      if (healthy) await this.promote(r)
    }
  }

  private async promote(r: RolloutRow): Promise<void> {
    const v = await this.repo.getVersion(r.version)
    if (!v) return this.finish(r, 'stopped', `version ${r.version} disappeared from the store`)
    await this.repo.setVersionStatus(r.version, 'published')
    await this.desired.publish({ ...v, status: 'published' }, groupDesiredTopic(r.group))
    await this.finish(r, 'completed', `canary ${r.canary.join(', ')} healthy; published to group ${r.group}`)
  }

  private async onTimeout(id: string): Promise<void> {
    const r = this.active.get(id)
    if (r?.state !== 'canary') return
    const reports = await this.repo.listReports({ version: r.version })
    const pending = r.canary.filter(
      (n) => !reports.some((x) => x.nodeId === n && x.status === 'applied' && x.health === 'ok'),
    )
    await this.finish(
      r,
      'stopped',
      `canary ${pending.join(', ')} did not report applied and healthy within ${r.timeoutMs} ms`,
    ).catch((err) =>
      this.ctx.logger.warn({ err: (err as Error).message, rollout: id }, 'rollout stop failed'),
    )
  }

  private async finish(r: RolloutRow, state: 'completed' | 'stopped', reason: string): Promise<void> {
    if (r.state !== 'canary') return
    r.state = state
    r.reason = reason
    r.updatedAt = this.ctx.clock.now()
    const t = this.timers.get(r.id)
    if (t !== undefined) this.ctx.clock.clearTimeout(t)
    this.timers.delete(r.id)
    this.active.delete(r.id)
    if (state === 'stopped') {
      await this.repo.setVersionStatus(r.version, 'stopped')
      for (const n of r.canary) await this.desired.clear(downTopic(n, 'desired'))
    }
    await this.repo.putRollout(r)
    this.ctx.logger.info({ rollout: r.id, state, reason }, `rollout ${state}`)
  }

  async view(id: string): Promise<RolloutView | null> {
    const r = this.active.get(id) ?? (await this.repo.getRollout(id))
    if (!r) return null
    const reports = await this.repo.listReports({ version: r.version, limit: 10_000 })
    const canaryStatus: RolloutView['canaryStatus'] = {}
    for (const n of r.canary) {
      const x = reports.find((y) => y.nodeId === n)
      canaryStatus[n] = x ? { status: x.status, health: x.health, reason: x.reason, at: x.at } : null
    }
    return { ...r, canary: [...r.canary], canaryStatus, reports }
  }

  close(): void {
    for (const t of this.timers.values()) this.ctx.clock.clearTimeout(t)
    this.timers.clear()
    this.active.clear()
  }
}
