import { readFileSync } from 'node:fs'
import {
  type AnomalyModel,
  type CloudConfig,
  type DesiredTarget,
  FoglineError,
  signDesired,
} from '@fogline/protocol'
import type { ControlContext, DesiredRow } from '../control/index.js'
import type { EventRow, SummaryRow } from '../store/index.js'
import { better, cleanWindows, fitClass, type Judgement, judge, type Win } from './fit.js'

export type TrainingConfig = NonNullable<CloudConfig['training']>

/** What one training run decided for one model (one class = one metric). */
export interface ModelOutcome {
  name: string
  outcome: 'published' | 'kept' | 'no-data'
  reason: string
  candidate: Judgement | null
  current: Judgement | null
  /** the model version now in force for this class (the new one when published) */
  version: number | null
  trainedAt: number | null
}

/** One training run on one target. */
export interface TrainResult {
  target: DesiredTarget
  at: number
  /** the desired-state version published, null when every candidate was kept back */
  published: number | null
  models: ModelOutcome[]
  /** summary windows left out (no spread aggregate, inside an anomaly event, level shift or burst) */
  dropped: number
}

interface Publisher {
  nextVersion(): Promise<number>
  accept(envelope: unknown): Promise<DesiredRow>
}

type Deps = Pick<ControlContext, 'store' | 'fleet' | 'clock' | 'logger'> & {
  desired: Publisher
  versions(q: { node?: string; group?: string; limit?: number }): Promise<DesiredRow[]>
}

/**
 * The cloud's training job. For a node or group it reads the summaries (and anomaly events) of the last
 * `lookback`, one class per metric; fits a `gaussian` candidate per class on the older part and judges it
 * against the model in force on the newest `holdBack` share; publishes the winners as one `models`
 * document signed with the cloud's own key (trusted by the nodes with scope `models` only), keeping every
 * model that did not improve. The model's name is its metric: a pipeline names the metric's model.
 * @example const r = await trainer.train({ node: 'edge-1' }); r.published
 */
export class Trainer {
  private readonly key: string

  constructor(
    private readonly d: Deps,
    private readonly cfg: TrainingConfig,
  ) {
    try {
      this.key = readFileSync(cfg.key, 'utf8')
    } catch {
      throw new FoglineError('FOG_CONFIG_NOT_FOUND', `cannot read the training key file ${cfg.key}`, {
        field: 'training.key',
        file: cfg.key,
      })
    }
  }

  async train(target: DesiredTarget): Promise<TrainResult> {
    const at = this.d.clock.now()
    const { rows, events } = await this.data(target, at)
    const current = await this.currentModels(target)
    const byMetric = new Map<string, SummaryRow[]>()
    for (const r of rows) byMetric.set(r.metric, [...(byMetric.get(r.metric) ?? []), r])
    const models: ModelOutcome[] = []
    const next: Record<string, AnomalyModel> = { ...current }
    let dropped = 0
    let version = await this.d.desired.nextVersion()
    for (const [name, list] of [...byMetric].sort(([a], [b]) => a.localeCompare(b))) {
      const clean = cleanWindows(list, events)
      dropped += clean.dropped
      const o = this.trainOne(name, clean.wins, current[name], version, at)
      models.push(o.outcome)
      if (o.model) next[name] = o.model
    }
    let published: number | null = null
    if (models.some((m) => m.outcome === 'published')) {
      published = await this.publish(target, next, models, version, at)
      version = published
    }
    const result = { target, at, published, models, dropped }
    this.d.logger.info(
      { target, published, models: models.map((m) => `${m.name}:${m.outcome}`) },
      'training run',
    )
    return result
  }

  private trainOne(name: string, wins: Win[], cur: AnomalyModel | undefined, version: number, at: number) {
    const cut = wins.length === 0 ? 0 : splitAt(wins, this.cfg.holdBack)
    const train = wins.filter((w) => w.start < cut)
    const held = wins.filter((w) => w.start >= cut)
    const cand = fitClass(train, { version, trainedAt: at })
    const kept = (outcome: ModelOutcome['outcome'], reason: string, j: Judgement | null = null) => ({
      model: undefined,
      outcome: {
        name,
        outcome,
        reason,
        candidate: j,
        current: cur ? judge(cur, held) : null,
        version: cur?.version ?? null,
        trainedAt: cur?.trainedAt ?? null,
      },
    })
    if (!cand || held.length === 0)
      return kept('no-data', `${wins.length} clean windows: too few to train and hold back`)
    const cj = judge(cand, held)
    const verdict = better(cj, judge(cur, held))
    if (!verdict.ok) return kept('kept', verdict.reason, cj)
    const outcome: ModelOutcome = {
      name,
      outcome: 'published',
      reason: verdict.reason,
      candidate: cj,
      current: cur ? judge(cur, held) : null,
      version,
      trainedAt: at,
    }
    return { model: cand, outcome }
  }

  private async data(target: DesiredTarget, at: number): Promise<{ rows: SummaryRow[]; events: EventRow[] }> {
    const from = at - this.cfg.lookback
    const nodes =
      'node' in target
        ? [target.node]
        : (await this.d.fleet.list()).filter((n) => n.group === target.group).map((n) => n.nodeId)
    const rows: SummaryRow[] = []
    const events: EventRow[] = []
    for (const nodeId of nodes) {
      rows.push(...(await this.d.store.querySummaries({ nodeId, from, to: at + 1, limit: 200_000 })))
      events.push(...(await this.d.store.queryEvents({ nodeId, from, to: at + 1, limit: 100_000 })))
    }
    return { rows, events }
  }

  /** the models in force for the target: those of its newest published document that carries models */
  private async currentModels(target: DesiredTarget): Promise<Record<string, AnomalyModel>> {
    const rows = await this.d.versions({ ...target, limit: 1000 })
    const row = rows.find((r) => r.status === 'published' && r.doc.models && sameTarget(r.target, target))
    return (row?.doc.models ?? {}) as Record<string, AnomalyModel>
  }

  private async publish(
    target: DesiredTarget,
    models: Record<string, AnomalyModel>,
    outcomes: ModelOutcome[],
    version: number,
    at: number,
  ): Promise<number> {
    const names = outcomes.filter((m) => m.outcome === 'published').map((m) => m.name)
    const note = `trained ${names.join(', ')} (fogline train)`
    const doc = { version, target, createdAt: at, models, note }
    const row = await this.d.desired.accept(signDesired(doc, this.key))
    return row.version
  }
}

/** the start time from which the newest `share` of the windows lie */
function splitAt(wins: readonly Win[], share: number): number {
  const first = wins[0]!.start
  const last = wins[wins.length - 1]!.start
  return last - (last - first) * share
}

function sameTarget(a: DesiredTarget, b: DesiredTarget): boolean {
  return 'node' in a ? 'node' in b && a.node === b.node : 'group' in b && a.group === b.group
}
