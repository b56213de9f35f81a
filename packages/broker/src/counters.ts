import type { BrokerLimits } from './limits.js'

/** Why a client was refused at CONNECT or at the TLS handshake. */
export type RefusalReason = 'badPassword' | 'unknownUser' | 'anonymous' | 'certificate' | 'clientId'

/** Every refusal, denial and limit hit since start. */
export interface BrokerCounters {
  refused: Record<RefusalReason, number>
  denied: { publish: number; subscribe: number }
  /** hits per limit */
  limits: Record<keyof BrokerLimits, number>
}

export function newCounters(): BrokerCounters {
  return {
    refused: { badPassword: 0, unknownUser: 0, anonymous: 0, certificate: 0, clientId: 0 },
    denied: { publish: 0, subscribe: 0 },
    limits: {
      maxConnections: 0,
      publishRate: 0,
      publishBytesPerSec: 0,
      maxTopicLength: 0,
      maxTopicLevels: 0,
      maxInflight: 0,
      connectTimeout: 0,
    },
  }
}

/** The logging the broker needs; a pino logger fits. */
export interface BrokerLogger {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
  debug?(obj: object, msg: string): void
}

export const silentLogger: BrokerLogger = { warn() {}, info() {} }
