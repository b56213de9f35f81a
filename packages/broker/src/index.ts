export { type Acl, filterCovers, parseAcl, readAclFile, topicMatches } from './acl.js'
export { type Broker, type BrokerOptions, startBroker } from './broker.js'
export { type BrokerOptionsFromConfig, brokerListenersFromConfig, brokerOptionsFromConfig } from './config.js'
export type { BrokerCounters, BrokerLogger, RefusalReason } from './counters.js'
export type { AcceptDurable, Qos2Ids } from './durable.js'
export { type BrokerLimits, DEFAULT_LIMITS, TokenBucket } from './limits.js'
export { isLoopback, type ListenerSpec, type TlsPem } from './listeners.js'
export { guardMqRecursion } from './mq-guard.js'
export {
  formatPasswordFile,
  hashPassword,
  type PasswordFile,
  parsePasswordFile,
  readPasswordFile,
  validUserName,
  verifyPassword,
} from './passwd.js'
export { sameSecret } from './secret.js'
