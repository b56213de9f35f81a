import type { AedesOptions, Client, PublishPacket } from 'aedes'
import { topicLevels } from './limits.js'
import type { Session, Shared } from './session.js'

/** authorizePublish, authorizeSubscribe, authorizeForward: topic limits, ACLs, rate limits, topic MUSTs. */
export function topicHooks(sh: Shared): Partial<AedesOptions> {
  const { auth, limits, clock, log, counters, sessions, once, hit } = sh
  return {
    authorizePublish(client, packet, done) {
      // a will of a client already gone: it passed these checks at CONNECT time
      if (!client) return done(null)
      // aedes' default hook refuses $SYS publishes (moscajs/aedes#597); replacing it keeps that
      if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS is read-only'))
      const topic = packet.topic
      // [MQTT-3.3.1-2] DUP must be 0 on QoS 0
      if (packet.qos === 0 && packet.dup) return done(new Error('[MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH'))
      const s = sessions.get(client)
      // a sensor publishes to the same topic again and again: the topic and ACL checks it passed last time
      // (same topic, same ACL object: a reload swaps it) need not run again
      if (s === undefined || topic !== s.okTopic || s.okAcl !== auth.acl) {
        const refused = checkTopic(sh, client, packet, s)
        if (refused !== undefined) return done(refused)
      }
      if (s === undefined || !s.limited) return done(null)
      // one reading of the clock for both buckets
      const now = clock.now()
      const waitMsgs = s.takeMsgs(1, now)
      const waitBytes = s.takeBytes((packet.payload as Buffer).length, now)
      if (waitMsgs === 0 && waitBytes === 0) return done(null)
      hit(client, waitBytes > waitMsgs ? 'publishBytesPerSec' : 'publishRate', {})
      // throttle: aedes reads this client's next packets only after this callback, so TCP backpressure holds it
      clock.setTimeout(() => done(null), Math.max(waitMsgs, waitBytes))
    },
    authorizeSubscribe(client, sub, done) {
      if (!client) return done(null, sub)
      const filter = sub.topic
      if (Buffer.byteLength(filter) > limits.maxTopicLength) {
        hit(client, 'maxTopicLength', { filter: filter.slice(0, 64) })
        return done(null, null as never)
      }
      if (topicLevels(filter) > limits.maxTopicLevels) {
        hit(client, 'maxTopicLevels', { filter: filter.slice(0, 64) })
        return done(null, null as never)
      }
      const s = sessions.get(client)
      if (topicViolation(filter) || (auth.acl && !auth.acl.canSubscribe(s?.user, client.id, filter))) {
        counters.denied.subscribe++
        if (once.due(`sub:${client.id}`))
          log.warn(
            { code: 'FOG_NOT_AUTHORIZED', clientId: client.id, username: s?.user ?? null, filter },
            'a subscription outside the client ACL was refused (SUBACK 0x80)',
          )
        // [MQTT-3.9.3-*] a null subscription makes aedes answer 0x80 (failure) for this filter
        return done(null, null as never)
      }
      done(null, sub)
    },
    authorizeForward(client, packet) {
      const acl = auth.acl
      // only deny rules can cut a granted wider filter; without them the subscribe check was enough
      if (!acl?.hasDeny) return packet
      return acl.canRead(sessions.get(client)?.user, client.id, packet.topic) ? packet : null
    },
  }
}

/**
 * The checks a publish topic passes once per client and ACL: length and level limits, topic MUSTs, the ACL.
 * Returns the refusal to give aedes (an Error closes the connection; null: acknowledged and dropped), or
 * undefined when the topic passed, which the session then remembers.
 */
function checkTopic(
  sh: Shared,
  client: Client,
  packet: PublishPacket,
  s: Session | undefined,
): Error | null | undefined {
  const { auth, limits, log, counters, once, hit } = sh
  const topic = packet.topic
  if (Buffer.byteLength(topic) > limits.maxTopicLength) {
    hit(client, 'maxTopicLength', { topic: topic.slice(0, 64) })
    return new Error('topic too long')
  }
  if (topicLevels(topic) > limits.maxTopicLevels) {
    hit(client, 'maxTopicLevels', { topic: topic.slice(0, 64) })
    return new Error('topic has too many levels')
  }
  const bad = topicViolation(topic)
  if (bad) return new Error(bad)
  if (auth.acl && !auth.acl.canPublish(s?.user, client.id, topic)) {
    counters.denied.publish++
    if (once.due(`pub:${client.id}`))
      log.warn(
        { code: 'FOG_NOT_AUTHORIZED', clientId: client.id, username: s?.user ?? null, topic },
        'a publish outside the client ACL was dropped (logged once a minute per client)',
      )
    // [MQTT-3.3.5-2] either close the connection, or acknowledge and not deliver
    if (sh.deniedPublish === 'disconnect') return new Error('publish outside the client ACL')
    sh.dropped.add(packet)
    return null
  }
  if (s) {
    s.okTopic = topic
    s.okAcl = auth.acl
  }
  return undefined
}

/**
 * [MQTT-4.7.3-2] no U+0000 in a topic; [MQTT-1.5.3-1] ill-formed UTF-8 must close the connection: mqtt-packet
 * decodes it to U+FFFD, which is how it is seen here (a well-formed U+FFFD in a topic is refused too).
 */
export function topicViolation(topic: string): string | null {
  if (topic.includes('\u0000')) return '[MQTT-4.7.3-2] topic holds U+0000'
  if (topic.includes('\uFFFD')) return '[MQTT-1.5.3-1] topic is not well-formed UTF-8'
  return null
}
