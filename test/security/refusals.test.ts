import { hashPassword, parsePasswordFile } from '@fogline/broker'
import { makeTestCa, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { broker, captureLog, mtlsListener, tryConnect } from './helpers.js'

/** Must show 1: each refusal with its reason in the log and a counter that moved. */
describe('fog broker refusals: reason logged, counter moved', () => {
  it('bad password and unknown user get CONNACK 4 [MQTT-3.2.2-3]; the right password gets in', async () => {
    const log = captureLog()
    const passwords = parsePasswordFile(`sensor-a:${await hashPassword('right-pw')}\n`)
    const b = await broker({ passwords, log })
    const bad = await tryConnect(b.url, { clientId: 'c1', username: 'sensor-a', password: 'wrong-pw' })
    expect(bad.code).toBe(4)
    const unknown = await tryConnect(b.url, { clientId: 'c2', username: 'nobody', password: 'right-pw' })
    expect(unknown.code).toBe(4)
    const ok = await tryConnect(b.url, { clientId: 'c3', username: 'sensor-a', password: 'right-pw' })
    expect(ok.client?.connected).toBe(true)
    expect(b.counters().refused).toMatchObject({ badPassword: 1, unknownUser: 1 })
    expect(log.lines.map((l) => [l.reason, l.clientId, l.code])).toEqual([
      ['badPassword', 'c1', 'FOG_AUTH_FAILED'],
      ['unknownUser', 'c2', 'FOG_AUTH_FAILED'],
    ])
    // no password in any log line
    expect(JSON.stringify(log.lines)).not.toMatch(/right-pw|wrong-pw/)
  })

  it('anonymous on a non-loopback listener is refused with CONNACK 5; on a loopback one it is admitted', async () => {
    // The listener binds 0.0.0.0 (every interface, so not loopback-only) and the client reaches it through
    // 127.0.0.1: the rule is about where the port is open, and this workplace forbids traffic to the eth address.
    const log = captureLog()
    const open = await broker({ host: '0.0.0.0', log })
    const anon = await tryConnect(open.url, { clientId: 'anon-1' })
    expect(anon.code).toBe(5)
    expect(open.counters().refused.anonymous).toBe(1)
    expect(log.lines[0]).toMatchObject({ reason: 'anonymous', clientId: 'anon-1' })
    expect(open.describe()[0]).toMatch(/0\.0\.0\.0:\d+: open to nobody/)
    const local = await broker({ host: '127.0.0.1' })
    const ok = await tryConnect(local.url, { clientId: 'anon-2' })
    expect(ok.client?.connected).toBe(true)
    expect(local.describe()[0]).toMatch(/open to anonymous clients on this machine/)
  })

  it('mqtts with requireCertificate: a CA-signed client cert gets in as its CN; untrusted and expired certs are refused at the TLS handshake', async () => {
    await using ca = makeTestCa('fog-ca')
    await using other = makeTestCa('rogue-ca')
    const server = ca.issue('server', { cn: 'fog-gw', san: ['DNS:localhost', 'IP:127.0.0.1'] })
    const good = ca.issue('dev1', { cn: 'dev1' })
    const expired = ca.issue('old', { cn: 'dev-old', days: -1 })
    const rogue = other.issue('rogue', { cn: 'dev1' })
    const log = captureLog()
    const b = await broker({
      listeners: [mtlsListener(server, ca, 'pem')],
      log,
    })
    expect(b.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/)
    const tls = (c: { cert: string; key: string }) => ({ ca: ca.cert, cert: c.cert, key: c.key })
    const ok = await tryConnect(b.url, { clientId: 'tls-ok', ...tls(good) })
    expect(ok.client?.connected).toBe(true)
    const r1 = await tryConnect(b.url, { clientId: 'tls-rogue', ...tls(rogue) })
    expect(r1.client).toBeUndefined()
    const r2 = await tryConnect(b.url, { clientId: 'tls-old', ...tls(expired) })
    expect(r2.client).toBeUndefined()
    await waitFor(() => b.counters().refused.certificate === 2, 'two certificate refusals counted')
    const reasons = log.lines.filter((l) => l.reason === 'certificate').map((l) => l.tls)
    expect(reasons.sort()).toEqual(['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])
    // no client certificate at all: refused too
    const none = await tryConnect(b.url, { clientId: 'tls-none', ca: ca.cert })
    expect(none.client).toBeUndefined()
    await waitFor(() => b.counters().refused.certificate === 3, 'a missing certificate counted')
    expect(b.clients()).toBe(1)
  })

  it('a broker certificate for another name is refused by a verifying client (wrong name)', async () => {
    await using ca = makeTestCa('fog-ca')
    const server = ca.issue('server', { cn: 'other-host', san: ['DNS:other-host.example'] })
    const b = await broker({
      listeners: [{ type: 'mqtts', host: '127.0.0.1', port: 0, tls: { cert: server.cert, key: server.key } }],
      passwords: parsePasswordFile(`s:${await hashPassword('pw')}\n`),
    })
    const r = await tryConnect(b.url, { ca: ca.cert, username: 's', password: 'pw' })
    expect(r.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    const ok = await tryConnect(b.url, {
      ca: ca.cert,
      servername: 'other-host.example',
      username: 's',
      password: 'pw',
    })
    expect(ok.client?.connected).toBe(true)
    onTestFinished(() => ok.client?.endAsync(true))
  })

  it('user names like __proto__ and constructor are unknown users, not a crash (found by the fuzzer)', async () => {
    const b = await broker({ users: { good: 'pw' } })
    for (const username of ['__proto__', 'constructor', 'toString']) {
      const r = await tryConnect(b.url, { username, password: 'x' })
      expect(r.code).toBe(4)
    }
    expect(b.counters().refused.badPassword + b.counters().refused.unknownUser).toBe(3)
    expect((await tryConnect(b.url, { username: 'good', password: 'pw' })).client?.connected).toBe(true)
  })
})
