/**
 * The one table of error codes. Code branches on `err.code`, never on message text.
 * @example throw new FoglineError('FOG_CONFIG_INVALID', 'window.size must be positive', { file, field: 'pipelines[0].window.size' })
 */
export const ERROR_CODES = {
  FOG_CONFIG_NOT_FOUND: 'The config file does not exist or cannot be read.',
  FOG_CONFIG_PARSE: 'The config file is not valid YAML/JSON.',
  FOG_CONFIG_INVALID: 'A config field is missing, unknown or has a wrong value.',
  FOG_STAGE_UNKNOWN: 'A pipeline names a stage type that is not registered.',
  FOG_EXPR_INVALID: 'A filter or map expression does not parse.',
  FOG_CODEC_VERSION: 'A wire message carries a codec version this build does not know.',
  FOG_CODEC_MALFORMED: 'A wire message could not be decoded.',
  FOG_TOPIC_INVALID: 'A topic does not match the Fogline topic scheme.',
  FOG_PAYLOAD_MALFORMED: 'A sensor payload could not be decoded.',
  FOG_PAYLOAD_TOO_LARGE: 'A message is larger than the configured limit.',
  FOG_READING_INVALID: 'A reading failed validation.',
  FOG_OUTBOX_FULL: 'The outbox reached its capacity and could not degrade further.',
  FOG_OUTBOX_CORRUPT: 'The outbox database file is corrupt; it was moved aside.',
  FOG_DISK_FULL: 'The disk is full; a write could not be committed.',
  FOG_UPLINK_TIMEOUT: 'The cloud did not acknowledge a batch in time.',
  FOG_UPLINK_UNAVAILABLE: 'No cloud endpoint is reachable.',
  FOG_AUTH_FAILED: 'Credentials were refused.',
  FOG_AUTH_REQUIRED: 'The request carries no API token (or an unknown or revoked one).',
  FOG_FORBIDDEN: "The API token's role does not allow this request.",
  FOG_RATE_LIMITED: 'Too many failed attempts from this client; wait before trying again.',
  FOG_NOT_AUTHORIZED: 'The client may not publish or subscribe to this topic.',
  FOG_SIGNATURE_INVALID: 'A desired-state document has a bad or missing signature.',
  FOG_SIGNATURE_MISSING: 'A desired-state document arrived unsigned; only signed envelopes are accepted.',
  FOG_KEY_UNKNOWN: 'A desired-state document is signed by a key that is not in the trusted key set.',
  FOG_KEY_SCOPE: 'A desired-state document changes something its signing key has no scope for.',
  FOG_KEY_EXPIRED: 'A desired-state document is signed by a key past its not-after date.',
  FOG_VERSION_REPLAY: 'A desired-state document is older than, or equal to, the applied one.',
  FOG_DESIRED_INVALID: 'A desired-state document failed schema validation.',
  FOG_HEALTH_FAILED: 'A newly applied config failed its health check and was rolled back.',
  FOG_STORE_FAILED: 'The cloud store could not commit a batch.',
  FOG_STORE_UNAVAILABLE:
    'The cloud store cannot be reached; the aggregator retries and is not ready meanwhile.',
  FOG_NOT_READY: 'The aggregator takes no messages now: not subscribed yet, or stopping.',
  FOG_BATCH_INVALID: 'An uplinked batch failed validation.',
  FOG_API_BAD_REQUEST: 'An HTTP request has missing or invalid parameters.',
  FOG_API_NOT_FOUND: 'The requested resource does not exist.',
  FOG_PIPELINE_QUARANTINED: 'A pipeline failed repeatedly and was stopped; the other pipelines run on.',
  FOG_EVENT_LOOP_STALL: 'The event loop was blocked for longer than ops.stallThreshold.',
  FOG_OUTBOX_UNWRITABLE: 'The outbox cannot be written (its folder is read-only, gone or full).',
  FOG_OUTBOX_FULL_PREDICTED: 'At the current backlog trend the outbox reaches its capacity soon.',
  FOG_CLOCK_UNTRUSTED: 'The clock is not synchronized yet, so cron windows are not applied.',
  FOG_INTERNAL: 'An unexpected internal failure.',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** Where a user's input went wrong: a file and field, a topic, a pipeline. */
export interface ErrorWhere {
  file?: string
  field?: string
  line?: number
  topic?: string
  pipeline?: string
  stage?: string
  [k: string]: unknown
}

export class FoglineError extends Error {
  readonly code: ErrorCode
  readonly where: ErrorWhere

  constructor(code: ErrorCode, message: string, where: ErrorWhere = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FoglineError'
    this.code = code
    this.where = where
  }

  /** One plain line for a user: `FOG_CONFIG_INVALID configs/a.yaml field pipelines[0].id: Required` */
  toUserString(): string {
    const w = this.where
    const parts: string[] = [this.code]
    if (w.file) parts.push(w.line ? `${w.file}:${w.line}` : w.file)
    if (w.topic) parts.push(`topic ${w.topic}`)
    if (w.pipeline) parts.push(`pipeline ${w.pipeline}`)
    if (w.field) parts.push(`field ${w.field}`)
    return `${parts.join(' ')}: ${this.message}`
  }

  toJSON(): ErrorData {
    return { code: this.code, message: this.message, where: this.where }
  }
}

/**
 * An error as data: what crosses package boundaries, stats, heartbeats, the API, the dashboard and the CLI.
 * Code branches on `code`; `message` is a plain sentence for a user; `where` says where (file, field, topic).
 * @example node.stats().lastError // { code: 'FOG_DISK_FULL', message: 'the disk is full…', where: { file: '/var/lib/fogline/outbox.db' } }
 */
export interface ErrorData {
  code: ErrorCode
  message: string
  where: ErrorWhere
}

/** Any thrown value as `ErrorData`; a non-Fogline error becomes `fallback` (default FOG_INTERNAL). */
export function toErrorData(
  e: unknown,
  fallback: ErrorCode = 'FOG_INTERNAL',
  where: ErrorWhere = {},
): ErrorData {
  if (e instanceof FoglineError) return e.toJSON()
  const message = e instanceof Error ? e.message : String(e)
  return { code: fallback, message, where }
}

/** One plain line for a user from `ErrorData` (CLI, logs). */
export function formatErrorData(e: ErrorData): string {
  return new FoglineError(e.code, e.message, e.where).toUserString()
}

export function isFoglineError(e: unknown, code?: ErrorCode): e is FoglineError {
  return e instanceof FoglineError && (code === undefined || e.code === code)
}
