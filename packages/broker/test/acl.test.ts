import { describe, expect, it } from 'vitest'
import { filterCovers, parseAcl, topicMatches } from '../src/index.js'

describe('ACL matching (Mosquitto acl_file semantics)', () => {
  it('topicMatches follows [MQTT-4.7]: + one level, # the rest, wildcards never match $ topics first', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true)
    expect(topicMatches('a/#', 'a')).toBe(true)
    expect(topicMatches('a/+', 'a/b/c')).toBe(false)
    expect(topicMatches('#', '$SYS/x')).toBe(false)
  })

  it('filterCovers: a grant must cover the whole subscription filter', () => {
    expect(filterCovers('a/#', 'a/+/c')).toBe(true)
    expect(filterCovers('a/+/c', 'a/#')).toBe(false)
    expect(filterCovers('a/b', 'a/+')).toBe(false)
    expect(filterCovers('a/+', 'a/+')).toBe(true)
  })

  it('%u and %c never apply to names holding / + or #, so a crafted name cannot widen a pattern', () => {
    const acl = parseAcl('pattern readwrite dev/%u/#\npattern read c/%c\n')
    expect(acl.canPublish('bob', 'x', 'dev/bob/t')).toBe(true)
    expect(acl.canPublish('bob', 'x', 'dev/eve/t')).toBe(false)
    expect(acl.canPublish('+', 'x', 'dev/eve/t')).toBe(false)
    expect(acl.canSubscribe('bob', 'a/#', 'c/a/#')).toBe(false)
    expect(acl.canSubscribe(undefined, 'me', 'c/me')).toBe(true)
  })

  it('topic lines before any user line are for anonymous clients only; deny wins', () => {
    const acl = parseAcl('topic read public/#\nuser u\ntopic readwrite x/#\ntopic deny x/secret\n')
    expect(acl.canSubscribe(undefined, 'c', 'public/a')).toBe(true)
    expect(acl.canSubscribe('u', 'c', 'public/a')).toBe(false)
    expect(acl.canPublish('u', 'c', 'x/a')).toBe(true)
    expect(acl.canPublish('u', 'c', 'x/secret')).toBe(false)
    expect(acl.canRead('u', 'c', 'x/secret')).toBe(false)
    expect(() => parseAcl('topic read a b\n', 'acl')).toThrow(/a topic may not hold spaces/)
    expect(() => parseAcl('bogus\n', 'acl')).toThrow(
      expect.objectContaining({ code: 'FOG_CONFIG_INVALID', where: { file: 'acl', line: 1 } }),
    )
  })
})
