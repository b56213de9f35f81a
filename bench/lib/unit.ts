/**
 * The V8 options the shipped gateway unit gives the node (deploy/fogline-node.service: NODE_OPTIONS and the
 * node flags of ExecStart), read from the unit file so a bench runs the node and bare aedes as they ship.
 */
import { join } from 'node:path'
import { readServiceUnit } from '../../test/deploy/unit-file.js'
import { ROOT } from './proc.js'

export const NODE_UNIT = join(ROOT, 'deploy/fogline-node.service')

/**
 * The node's own flags in the unit's ExecStart (`/usr/bin/node --flag … script …`: the words between the node
 * binary and the script), for the V8 options NODE_OPTIONS does not allow (e.g. `--compact-on-every-full-gc`).
 */
export function unitNodeArgs(unit = NODE_UNIT): string[] {
  const [, ...rest] = readServiceUnit(unit).execStart
  const script = rest.findIndex((w) => !w.startsWith('-'))
  return script < 0 ? rest : rest.slice(0, script)
}

/** Every V8 option the unit gives: NODE_OPTIONS and ExecStart's node flags. @example spawnPlain([...gatewayNodeFlags(), CLI, 'node', …]) */
export function gatewayNodeFlags(unit = NODE_UNIT): string[] {
  return [
    ...(readServiceUnit(unit).environment['NODE_OPTIONS'] ?? '').split(' ').filter(Boolean),
    ...unitNodeArgs(unit),
  ]
}

/** node's own flags from a bench variable (`'--flag …'`, `''` for none), or the unit's ExecStart flags when unset */
export function nodeFlagsOr(value: string | undefined, unit = NODE_UNIT): string[] {
  return value !== undefined ? value.split(' ').filter(Boolean) : unitNodeArgs(unit)
}
