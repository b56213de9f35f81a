import { type ErrorCode, type ErrorData, FoglineError, isFoglineError } from '@fogline/protocol'
import type { FastifyError, FastifyInstance } from 'fastify'

const STATUS: Partial<Record<ErrorCode, number>> = {
  FOG_API_BAD_REQUEST: 400,
  FOG_CONFIG_INVALID: 400,
  FOG_DESIRED_INVALID: 400,
  FOG_SIGNATURE_INVALID: 400,
  FOG_VERSION_REPLAY: 409,
  FOG_API_NOT_FOUND: 404,
  FOG_NOT_AUTHORIZED: 403,
  FOG_AUTH_FAILED: 401,
  FOG_AUTH_REQUIRED: 401,
  FOG_FORBIDDEN: 403,
  FOG_RATE_LIMITED: 429,
  FOG_SIGNATURE_MISSING: 400,
  FOG_KEY_UNKNOWN: 400,
  FOG_KEY_SCOPE: 403,
  FOG_KEY_EXPIRED: 400,
  FOG_STORE_FAILED: 503,
}

export const badRequest = (message: string, field?: string) =>
  new FoglineError('FOG_API_BAD_REQUEST', message, field ? { field } : {})
export const notFound = (message: string, where: Record<string, unknown> = {}) =>
  new FoglineError('FOG_API_NOT_FOUND', message, where)

/** The one shape of every error the API sends: `{ error: { code, message, where } }`. */
export const errorBody = (e: ErrorData) => ({ error: e })

/** HTTP status of a coded error: 4xx for the caller's mistakes, 5xx otherwise. */
export const statusOf = (code: ErrorCode): number => STATUS[code] ?? 500

/** Every error leaves as JSON `{ error: { code, message, where } }` with a 4xx for the caller's mistakes. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | FoglineError, req, reply) => {
    if (isFoglineError(err)) {
      const status = statusOf(err.code)
      // the audit entry of a refused control action names the code the caller got
      ;(req as { fogError?: string }).fogError = err.code
      if (status === 401) reply.header('www-authenticate', 'Bearer')
      if (status >= 500) req.log.error({ err }, 'request failed')
      return reply.status(status).send(errorBody(err.toJSON()))
    }
    const fe = err as FastifyError
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = fe.statusCode === 404 ? 'FOG_API_NOT_FOUND' : 'FOG_API_BAD_REQUEST'
      return reply
        .status(fe.statusCode === 404 ? 404 : 400)
        .send(errorBody({ code, message: fe.message, where: { path: req.url } }))
    }
    req.log.error({ err }, 'request failed')
    return reply
      .status(500)
      .send(errorBody({ code: 'FOG_INTERNAL', message: 'internal error', where: { path: req.url } }))
  })
  app.setNotFoundHandler((req, reply) => {
    const message = `no route ${req.method} ${req.url.split('?')[0]}`
    reply.status(404).send(errorBody({ code: 'FOG_API_NOT_FOUND', message, where: { path: req.url } }))
  })
}
