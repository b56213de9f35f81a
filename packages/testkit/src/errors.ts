import { FoglineError } from '@fogline/protocol'

/**
 * The FoglineError that `fn` throws (any other throw is rethrown; no throw fails), so a test can assert
 * its code and where.
 * @example expect(errorOf(() => parseConfig(NodeConfig, {})).where.field).toBe('nodeId')
 */
export function errorOf(fn: () => unknown): FoglineError {
  try {
    fn()
  } catch (e) {
    if (e instanceof FoglineError) return e
    throw e
  }
  throw new Error('expected a FoglineError, nothing was thrown')
}
