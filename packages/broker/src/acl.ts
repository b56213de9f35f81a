import { FoglineError, readUserFile } from '@fogline/protocol'

type Access = 'read' | 'write' | 'readwrite' | 'deny'
interface Rule {
  access: Access
  topic: string
  /** `pattern` lines substitute %u and %c */
  pattern: boolean
}

/**
 * Topic rights in Mosquitto's acl_file format:
 *   topic [read|write|readwrite|deny] TOPIC     (before any `user` line: anonymous clients; after: that user)
 *   user NAME
 *   pattern [read|write|readwrite|deny] TOPIC   (every client; %u = user name, %c = client id)
 * Anything not granted is denied; a matching `deny` wins over any grant. Lifecycle: parse → check per packet.
 */
export interface Acl {
  /** may this client publish to `topic`? */
  canPublish(user: string | undefined, clientId: string, topic: string): boolean
  /** may this client subscribe to `filter`? (a read rule must cover the whole filter) */
  canSubscribe(user: string | undefined, clientId: string, filter: string): boolean
  /** may a message on `topic` be delivered to this client? (deny rules inside a granted wider filter) */
  canRead(user: string | undefined, clientId: string, topic: string): boolean
  /** users named by `user` lines */
  readonly users: ReadonlySet<string>
  /** whether any rule denies (only then delivery needs a per-message check) */
  readonly hasDeny: boolean
}

/** Does `topic` (no wildcards) match `filter` [MQTT-4.7]? A leading wildcard never matches a `$` topic. */
export function topicMatches(filter: string, topic: string): boolean {
  // a topic name is a filter without wildcards, and a filter matches it exactly when it covers it
  return filterCovers(filter, topic)
}

/** Does ACL filter `acl` cover every topic that subscription filter `sub` can match? */
export function filterCovers(acl: string, sub: string): boolean {
  if (sub.startsWith('$') && (acl.startsWith('+') || acl.startsWith('#'))) return false
  const a = acl.split('/')
  const s = sub.split('/')
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true
    if (i >= s.length) return false
    if (s[i] === '#') return false
    if (a[i] !== '+' && a[i] !== s[i]) return false
  }
  return a.length === s.length
}

// a name holding a wildcard or separator would widen a %u/%c pattern to other clients' topics (as Mosquitto)
const UNSAFE = /[+#/]/

function expand(rule: Rule, user: string | undefined, clientId: string): string | null {
  if (!rule.pattern) return rule.topic
  if (rule.topic.includes('%u') && (user === undefined || UNSAFE.test(user))) return null
  if (rule.topic.includes('%c') && UNSAFE.test(clientId)) return null
  return rule.topic.replaceAll('%u', user ?? '').replaceAll('%c', clientId)
}

/** Parse acl_file text; a bad line is FOG_CONFIG_INVALID naming the file and line. */
export function parseAcl(text: string, file = '<acl>'): Acl {
  const anonymous: Rule[] = []
  const byUser = new Map<string, Rule[]>()
  const patterns: Rule[] = []
  let current: Rule[] = anonymous
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const bad = (why: string) =>
      new FoglineError('FOG_CONFIG_INVALID', `${why}: "${line}"`, { file, line: i + 1 })
    const m = /^(user|topic|pattern)\s+(.*)$/.exec(line)
    if (!m) throw bad('not an ACL line (user NAME, topic [ACCESS] TOPIC, pattern [ACCESS] TOPIC)')
    if (m[1] === 'user') {
      current = byUser.get(m[2]!) ?? []
      byUser.set(m[2]!, current)
      return
    }
    const parts = /^(read|write|readwrite|deny)\s+(.+)$/.exec(m[2]!)
    const access = (parts?.[1] ?? 'readwrite') as Access
    const topic = (parts?.[2] ?? m[2]!).trim()
    if (/\s/.test(topic)) throw bad('a topic may not hold spaces')
    const rule: Rule = { access, topic, pattern: m[1] === 'pattern' }
    ;(rule.pattern ? patterns : current).push(rule)
  })
  const rulesFor = (user: string | undefined) => [
    ...(user === undefined ? anonymous : (byUser.get(user) ?? [])),
    ...patterns,
  ]
  const check = (
    user: string | undefined,
    clientId: string,
    want: 'read' | 'write',
    matches: (filter: string) => boolean,
    denies: (filter: string) => boolean,
  ): boolean => {
    let granted = false
    for (const r of rulesFor(user)) {
      const f = expand(r, user, clientId)
      if (f === null) continue
      if (r.access === 'deny') {
        if (denies(f)) return false
      } else if (!granted && (r.access === 'readwrite' || r.access === want) && matches(f)) granted = true
    }
    return granted
  }
  const all = [...anonymous, ...patterns, ...[...byUser.values()].flat()]
  return {
    canPublish: (u, c, topic) =>
      check(
        u,
        c,
        'write',
        (f) => topicMatches(f, topic),
        (f) => topicMatches(f, topic),
      ),
    canSubscribe: (u, c, filter) =>
      check(
        u,
        c,
        'read',
        (f) => filterCovers(f, filter),
        (f) => filterCovers(f, filter),
      ),
    canRead: (u, c, topic) =>
      check(
        u,
        c,
        'read',
        (f) => topicMatches(f, topic),
        (f) => topicMatches(f, topic),
      ),
    users: new Set(byUser.keys()),
    hasDeny: all.some((r) => r.access === 'deny'),
  }
}

/** Read and parse an ACL file. */
export function readAclFile(file: string): Acl {
  return parseAcl(readUserFile(file, 'the ACL file', { field: 'broker.aclFile' }), file)
}
