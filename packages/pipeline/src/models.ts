import { AnomalyModel, AnomalyModels, FoglineError, parseConfig } from '@fogline/protocol'
import { z } from 'zod'

export { AnomalyModel }

/** The models a node holds, by name; stages read them on every reading, so a push takes effect at once. */
export class ModelRegistry {
  private models = new Map<string, AnomalyModel>()
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
    // the same schema the cloud checks before signing; the error names models.<name>.<field>
    const { models } = parseConfig(z.object({ models: AnomalyModels }), { models: raw })
    this.models = new Map(Object.entries(models))
  }
}
