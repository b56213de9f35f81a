export * from './deadletters.js'
export * from './desired/index.js'
export * from './logger.js'
export * from './node.js'
