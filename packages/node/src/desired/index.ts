export * from './agent.js'
export * from './attach.js'
export * from './health.js'
export * from './types.js'
