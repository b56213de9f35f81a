import { AnomalyModel, FoglineError } from '@fogline/protocol'

export { AnomalyModel }

/** The models a node holds, by name; stages read them on every reading, so a push takes effect at once. */
export class ModelRegistry {
  private models = new Map<string, AnomalyModel>()
  /** bumped on every change, so stages can tell a new version from the one they saw */
  version = 0

  get(name: string): AnomalyModel | undefined {
    return this.models.get(name)
  }

  names(): string[] {
    return [...this.models.keys()].sort()
  }

  /**
   * Replace all models at once; throws FOG_CONFIG_INVALID naming the model and field and keeps the old set
   * when any is invalid.
   * @example engine.models.set({ vib: { kind: 'ewma', k: 5 } })
   */
  set(raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new FoglineError('FOG_CONFIG_INVALID', 'models must be an object of name: model', {
        field: 'models',
      })
    const next = new Map<string, AnomalyModel>()
    for (const [name, m] of Object.entries(raw)) {
      const r = AnomalyModel.safeParse(m)
      if (!r.success) {
        const issue = r.error.issues[0]!
        const path = ['models', name, ...issue.path.map(String)].join('.')
        throw new FoglineError('FOG_CONFIG_INVALID', `model "${name}": ${issue.message} at ${path}`, {
          field: path,
        })
      }
      next.set(name, r.data)
    }
    this.models = next
    this.version++
  }
}
