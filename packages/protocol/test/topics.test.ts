import { describe, expect, it } from 'vitest'
import {
  downTopic,
  groupDesiredTopic,
  parseDownTopic,
  parseUpTopic,
  topicMatches,
  upTopic,
} from '../src/index.js'

describe('topics', () => {
  it('builds and parses up topics', () => {
    expect(upTopic('node-a', 'summary')).toBe('fogline/v1/node-a/up/summary')
    expect(parseUpTopic('fogline/v1/node-a/up/event')).toEqual({ nodeId: 'node-a', stream: 'event' })
    expect(parseUpTopic('fogline/v1/node-a/up/nope')).toBeNull()
    expect(parseUpTopic('fogline/v1/node-a/down/ack')).toBeNull()
    expect(parseUpTopic('fogline/v2/node-a/up/event')).toBeNull()
  })

  it('builds and parses down topics for nodes and groups', () => {
    expect(parseDownTopic(downTopic('n1', 'ack'))).toEqual({ nodeId: 'n1', kind: 'ack' })
    expect(parseDownTopic(groupDesiredTopic('line-1'))).toEqual({ group: 'line-1', kind: 'desired' })
    expect(parseDownTopic('fogline/v1/n1/down/other')).toBeNull()
  })

  it('refuses ids that would break the topic scheme', () => {
    expect(() => upTopic('a/b', 'summary')).toThrow(expect.objectContaining({ code: 'FOG_TOPIC_INVALID' }))
    expect(() => upTopic('a+', 'summary')).toThrow(expect.objectContaining({ code: 'FOG_TOPIC_INVALID' }))
    expect(() => downTopic('#', 'ack')).toThrow(expect.objectContaining({ code: 'FOG_TOPIC_INVALID' }))
  })

  it('matches MQTT wildcards [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1]', () => {
    expect(topicMatches('sensors/+/+', 'sensors/t1/temperature')).toBe(true)
    expect(topicMatches('sensors/+/+', 'sensors/t1')).toBe(false)
    expect(topicMatches('sensors/#', 'sensors')).toBe(true)
    expect(topicMatches('sensors/#', 'sensors/a/b/c')).toBe(true)
    expect(topicMatches('sensors/+', 'sensors/a/b')).toBe(false)
    expect(topicMatches('#', '$SYS/broker')).toBe(false)
    expect(topicMatches('+/x', '$SYS/x')).toBe(false)
  })
})
