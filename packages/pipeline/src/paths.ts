/**
 * Field paths like `$.value`, `$.data.temp` or `$.readings[0].v`, compiled once into a key list so the
 * hot path walks an object without parsing the path again.
 */
export type PathKeys = readonly (string | number)[]

const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y

/** Parse a field path; returns undefined when it is not one. `$` alone is the whole payload. */
export function compilePath(path: string): PathKeys | undefined {
  if (!path.startsWith('$')) return undefined
  const keys: (string | number)[] = []
  let i = 1
  while (i < path.length) {
    SEGMENT.lastIndex = i
    const m = SEGMENT.exec(path)
    if (!m) return undefined
    keys.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4]!)))
    i = SEGMENT.lastIndex
  }
  return keys
}

export function getPath(obj: unknown, keys: PathKeys): unknown {
  let cur = obj
  for (let i = 0; i < keys.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string | number, unknown>)[keys[i]!]
  }
  return cur
}

/** `topic[2]` → 2 */
export function topicSegmentIndex(source: string): number | undefined {
  const m = /^topic\[(\d+)\]$/.exec(source)
  return m ? Number(m[1]) : undefined
}
