import type { StageDef } from '../types.js'
import { anomaly } from './anomaly.js'
import { deadband } from './deadband.js'
import { downsample } from './downsample.js'
import { filter } from './filter.js'
import { map } from './map.js'
import { swingingDoor } from './swinging-door.js'
import { threshold } from './threshold.js'
import { validate } from './validate.js'
import { window } from './window.js'

/** Every built-in stage, in one place. An unknown `type` is FOG_STAGE_UNKNOWN, never undefined. */
export const builtinStages = [
  validate,
  filter,
  map,
  deadband,
  downsample,
  swingingDoor,
  window,
  threshold,
  anomaly,
] as const satisfies readonly StageDef[]

export const stageRegistry: ReadonlyMap<string, StageDef> = new Map(
  builtinStages.map((s) => [s.name, s as StageDef]),
)
