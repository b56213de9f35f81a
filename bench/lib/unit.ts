/**
 * The V8 options the shipped gateway unit gives the node (deploy/fogline-node.service, NODE_OPTIONS), read
 * from the unit file so a bench runs the node and bare aedes as they ship.
 */
import { join } from 'node:path'
import { readServiceUnit } from '../../test/deploy/unit-file.js'
import { ROOT } from './proc.js'

export const NODE_UNIT = join(ROOT, 'deploy/fogline-node.service')

/** @example spawnPlain([...gatewayNodeFlags(), CLI, 'node', …]) */
export function gatewayNodeFlags(unit = NODE_UNIT): string[] {
  return (readServiceUnit(unit).environment['NODE_OPTIONS'] ?? '').split(' ').filter(Boolean)
}
