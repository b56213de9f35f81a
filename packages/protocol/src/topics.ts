import { FoglineError } from './errors.js'
import type { UpStream } from './records.js'

export const TOPIC_ROOT = 'fogline/v1'
const ID = /^[A-Za-z0-9_.:-]{1,64}$/

/** Node ids and group names: 1-64 of [A-Za-z0-9_.:-], so they never contain MQTT wildcards or '/'. */
export function isValidId(id: string): boolean {
  return ID.test(id)
}

function checkId(id: string, what: string): void {
  if (!ID.test(id))
    throw new FoglineError('FOG_TOPIC_INVALID', `${what} "${id}" must be 1-64 of [A-Za-z0-9_.:-]`)
}

/** @example upTopic('node-a', 'summary') === 'fogline/v1/node-a/up/summary' */
export function upTopic(nodeId: string, stream: UpStream): string {
  checkId(nodeId, 'nodeId')
  return `${TOPIC_ROOT}/${nodeId}/up/${stream}`
}

export type DownKind = 'desired' | 'ack' | 'control'

/** @example downTopic('node-a', 'ack') === 'fogline/v1/node-a/down/ack' */
export function downTopic(nodeId: string, kind: DownKind): string {
  checkId(nodeId, 'nodeId')
  return `${TOPIC_ROOT}/${nodeId}/down/${kind}`
}

/** @example groupDesiredTopic('line-1') === 'fogline/v1/group/line-1/down/desired' */
export function groupDesiredTopic(group: string): string {
  checkId(group, 'group')
  return `${TOPIC_ROOT}/group/${group}/down/desired`
}

/** Subscription filter for everything nodes send up. */
export const UP_FILTER = `${TOPIC_ROOT}/+/up/#`

const UP_STREAMS = new Set(['summary', 'event', 'raw', 'reported', 'heartbeat'])

/** Parse `fogline/v1/{nodeId}/up/{stream}`; null if the topic is not an up topic. */
export function parseUpTopic(topic: string): { nodeId: string; stream: UpStream } | null {
  const p = topic.split('/')
  if (p.length !== 5 || p[0] !== 'fogline' || p[1] !== 'v1' || p[3] !== 'up') return null
  const nodeId = p[2]!
  const stream = p[4]!
  if (!ID.test(nodeId) || nodeId === 'group' || !UP_STREAMS.has(stream)) return null
  return { nodeId, stream: stream as UpStream }
}

/** Parse a down topic for a node or a group; null if it is not one. */
export function parseDownTopic(
  topic: string,
): { nodeId: string; kind: DownKind } | { group: string; kind: 'desired' } | null {
  const p = topic.split('/')
  if (p[0] !== 'fogline' || p[1] !== 'v1') return null
  if (p.length === 6 && p[2] === 'group' && p[4] === 'down' && p[5] === 'desired' && ID.test(p[3]!))
    return { group: p[3]!, kind: 'desired' }
  if (p.length === 5 && p[3] === 'down' && ID.test(p[2]!) && ['desired', 'ack', 'control'].includes(p[4]!))
    return { nodeId: p[2]!, kind: p[4] as DownKind }
  return null
}

/**
 * MQTT topic filter match on levels split once (the pipeline splits its filters at load and caches a topic's
 * levels, because sensors publish to the same topics over and over): [MQTT-4.7.1-2] `#` matches the parent
 * and all below, [MQTT-4.7.1-3] `+` one level, [MQTT-4.7.2-1] topics starting with `$` not by a wildcard.
 * @example matchTopicLevels(['sensors', '+'], ['sensors', 't1']) === true
 */
export function matchTopicLevels(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]?.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false
  for (let i = 0; i < filter.length; i++) {
    const part = filter[i]
    if (part === '#') return true
    if (i >= topic.length) return false
    if (part !== '+' && part !== topic[i]) return false
  }
  return filter.length === topic.length
}

/**
 * MQTT topic filter match with `+` and `#` (see matchTopicLevels).
 * @example topicMatches('sensors/+/+', 'sensors/t1/temperature') === true
 */
export function topicMatches(filter: string, topic: string): boolean {
  return matchTopicLevels(filter.split('/'), topic.split('/'))
}
