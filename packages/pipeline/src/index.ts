export { AGGREGATE_PATTERN, Agg } from './aggregates.js'
export { canonicalJson, validatePipelines } from './config.js'
export { compileDecoder } from './decode.js'
export {
  createDetector,
  DEFAULT_MODEL,
  type Detector,
  type DetectorDef,
  detectors,
} from './detectors/index.js'
export { createEngine } from './engine.js'
export { compileExpr, EXPR_NAMES } from './expr.js'
export { AnomalyModel, ModelRegistry } from './models.js'
export { DDSketch } from './sketch.js'
export { AnomalyConfig } from './stages/anomaly.js'
export { DeadbandConfig } from './stages/deadband.js'
export { DownsampleConfig } from './stages/downsample.js'
export { FilterConfig } from './stages/filter.js'
export { builtinStages, stageRegistry } from './stages/index.js'
export { MapConfig } from './stages/map.js'
export { SwingingDoorConfig } from './stages/swinging-door.js'
export { ThresholdConfig } from './stages/threshold.js'
export { ValidateConfig } from './stages/validate.js'
export { WindowConfig } from './stages/window.js'
export * from './types.js'
export { UNIT_NAMES, unitConversion } from './units.js'
