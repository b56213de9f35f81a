import { type StageDef, stageRegistry } from '@fogline/pipeline'
import { z } from 'zod'

/**
 * A stage that throws on every reading (a bug in a stage, a model that blows up), registered for one test
 * and removed after: the built-in registry has no such stage on purpose.
 */
export function registerThrowingStage(): () => void {
  const def: StageDef<{ type: 'explode' }> = {
    name: 'explode',
    schema: z.strictObject({ type: z.literal('explode') }),
    create() {
      return {
        process() {
          throw new Error('stage bug: cannot read property of undefined')
        },
      }
    },
  }
  const reg = stageRegistry as Map<string, StageDef>
  reg.set(def.name, def)
  return () => void reg.delete(def.name)
}
