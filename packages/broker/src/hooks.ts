import type { AedesOptions } from 'aedes'
import { authHooks } from './auth.js'
import { topicHooks } from './authorize.js'
import { type HookCtx, shared } from './session.js'

export type { AuthState, HookCtx } from './session.js'

/**
 * The aedes hooks that enforce logins, topic ACLs, limits and the CONNECT checks aedes leaves out. Each
 * refusal, denial and limit hit moves a counter and is logged (at most once per client and kind a minute).
 */
export function securityHooks(ctx: HookCtx): Partial<AedesOptions> {
  const sh = shared(ctx)
  return { ...authHooks(sh), ...topicHooks(sh) }
}
