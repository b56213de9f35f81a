/**
 * Keep mqemitter from overflowing the stack. When more messages are queued than its concurrency allows and
 * their deliveries complete synchronously (a slow subscriber disconnects while QoS 0 messages wait for it),
 * mqemitter 7 handles the whole queue by recursion (`released` → `_do` → … → `released`) and throws
 * "Maximum call stack size exceeded" out of the broker (mcollina/mqemitter#204, open; reproduced here with
 * ~2,500 queued messages). Past a nesting depth the next message goes on the next turn of the event loop,
 * as that maintainer suggests; the common, shallow path stays synchronous.
 */
export function guardMqRecursion(mq: unknown): void {
  const m = mq as { _do?: (message: unknown, cb: unknown) => unknown }
  const original = m._do
  if (typeof original !== 'function') return
  const MAX_DEPTH = 100
  let depth = 0
  m._do = function (this: unknown, message: unknown, cb: unknown) {
    if (depth >= MAX_DEPTH) {
      setImmediate(() => m._do!.call(this, message, cb))
      return this
    }
    depth++
    try {
      return original.call(this, message, cb)
    } finally {
      depth--
    }
  }
}
