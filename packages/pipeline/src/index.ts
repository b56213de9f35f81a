/**
 * @fogline/pipeline: the declarative pipeline engine of a fog node. The public API is what the node and the
 * tools use: `createEngine` (lifecycle: create → ingest/tick → reconcile → close), `validatePipelines`, the
 * stage registry (`builtinStages`, `stageRegistry`, `StageDef` to add a stage), the types of types.ts, and
 * the anomaly detectors (docs/pipeline.md, docs/anomaly.md). Everything else is internal to the package.
 * @example const engine = createEngine(pipelines, { clock, emit: (outs) => outbox.append(outs), deadLetter })
 */
export { validatePipelines } from './config.js'
export {
  createDetector,
  DEFAULT_MODEL,
  type Detector,
  type DetectorDef,
  detectors,
} from './detectors/index.js'
export { createEngine } from './engine.js'
export { AnomalyModel, ModelRegistry } from './models.js'
export { AnomalyConfig } from './stages/anomaly.js'
export { builtinStages, stageRegistry } from './stages/index.js'
export * from './types.js'
