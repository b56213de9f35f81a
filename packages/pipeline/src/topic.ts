/**
 * MQTT filter matching, precompiled: filters are split once; a message topic is split once and cached,
 * with the pipelines it matches, because sensors publish to the same topics over and over.
 */
export type CompiledFilter = readonly string[]

export function compileFilter(filter: string): CompiledFilter {
  return filter.split('/')
}

/** [MQTT-4.7.1-2] `#` matches the parent and all below, [MQTT-4.7.1-3] `+` one level, [MQTT-4.7.2-1] `$` topics not by wildcards. */
export function matchSegments(f: CompiledFilter, t: readonly string[]): boolean {
  if (t[0]?.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false
  for (let i = 0; i < f.length; i++) {
    const part = f[i]
    if (part === '#') return true
    if (i >= t.length) return false
    if (part !== '+' && part !== t[i]) return false
  }
  return f.length === t.length
}
