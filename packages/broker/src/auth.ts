import type { AedesOptions } from 'aedes'
import { topicViolation } from './authorize.js'
import { verifyPassword } from './passwd.js'
import { sameSecret } from './secret.js'
import { RC, refusal, type Shared } from './session.js'

/** preConnect and authenticate: CONNECT checks, logins (certificate, password file, plaintext), anonymous policy. */
export function authHooks(sh: Shared): Partial<AedesOptions> {
  const { auth, limits, log, noId, hit, refuse, begin } = sh
  return {
    preConnect(client, packet, done) {
      // MUSTs of the CONNECT section that mqtt-packet and aedes let through: a protocol violation closes
      // the connection without a CONNACK [MQTT-4.8.0-1]
      const violation = connectViolation(packet)
      if (violation) {
        log.warn({ clientId: packet.clientId, rule: violation }, `malformed CONNECT refused: ${violation}`)
        return done(new Error(violation), false)
      }
      // [MQTT-3.1.3-8]: aedes assigns an id even without clean session; refused in authenticate with CONNACK 2
      if (packet.clientId === '' && !packet.clean) noId.add(client)
      // a certificate names its user before authenticate runs: bind it now, so PUBLISHes a client pipelines
      // right behind its CONNECT (Paho does, without waiting for CONNACK) are judged as that user
      const certName = sh.info.get(client.conn)?.certName
      if (certName !== undefined) begin(client, certName)
      done(null, true)
    },
    authenticate(client, username, password, done) {
      if (noId.has(client)) return refuse(client, username, 'clientId', done, RC.clientId)
      if (sh.connected() >= limits.maxConnections) {
        hit(client, 'maxConnections', { max: limits.maxConnections })
        return done(refusal(RC.unavailable, 'server unavailable: too many connections'), false)
      }
      const info = sh.info.get(client.conn)
      if (info?.certName !== undefined) {
        begin(client, info.certName)
        return done(null, true)
      }
      if (username === undefined) {
        if (info?.listener.anonymousAllowed) {
          begin(client, undefined)
          return done(null, true)
        }
        return refuse(client, username, 'anonymous', done, RC.notAuthorized)
      }
      const hash = auth.passwords?.get(username)
      // own keys only: a user name like "__proto__" or "constructor" must not reach Object.prototype (found by
      // fuzzing: it threw out of the hook and would have taken the process down)
      const users = auth.users
      const plain =
        hash === undefined && users && Object.hasOwn(users, username) ? users[username] : undefined
      if (plain !== undefined) {
        if (password !== undefined && sameSecret(password, plain)) {
          begin(client, username)
          return done(null, true)
        }
        return refuse(client, username, 'badPassword', done, RC.badLogin)
      }
      verifyPassword(password ?? '', hash).then(
        (ok) => {
          if (!ok) refuse(client, username, hash ? 'badPassword' : 'unknownUser', done, RC.badLogin)
          else {
            begin(client, username)
            done(null, true)
          }
        },
        (err: Error) => done(err as never, false),
      )
    },
  }
}

/** The CONNECT MUSTs aedes does not check, or null. */
export function connectViolation(p: {
  username?: string | undefined
  password?: Buffer | undefined
  will?: { topic: string; qos?: number | undefined } | null | undefined
}): string | null {
  // [MQTT-3.1.2-22] no password without a user name
  if (p.password !== undefined && p.username === undefined)
    return '[MQTT-3.1.2-22] password without user name'
  if (p.will) {
    // [MQTT-3.1.2-14] will QoS 3 is not allowed
    if ((p.will.qos ?? 0) > 2) return '[MQTT-3.1.2-14] will QoS 3'
    // the will is published like any PUBLISH: [MQTT-3.3.2-2] no wildcards, [MQTT-4.7.3-1] not empty
    if (p.will.topic === '' || /[+#]/.test(p.will.topic))
      return '[MQTT-3.3.2-2] will topic empty or with wildcards'
    const bad = topicViolation(p.will.topic)
    if (bad) return bad
  }
  return null
}
