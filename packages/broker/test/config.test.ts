import { BrokerConfig, type FoglineError, NodeConfig, parseConfig } from '@fogline/protocol'
import { describe, expect, it } from 'vitest'
import { brokerOptionsFromConfig } from '../src/index.js'

const fail = (f: () => unknown): FoglineError => {
  try {
    f()
  } catch (e) {
    return e as FoglineError
  }
  throw new Error('did not throw')
}

describe('broker config', () => {
  it('refuses a plaintext password outside the demo with FOG_CONFIG_INVALID naming the field', () => {
    const c = parseConfig(BrokerConfig, { users: { sensor: 'hunter2' } })
    const err = fail(() => brokerOptionsFromConfig(c, { file: 'node.yaml' }))
    expect(err.code).toBe('FOG_CONFIG_INVALID')
    expect(err.toUserString()).toMatch(
      /^FOG_CONFIG_INVALID node\.yaml field broker\.users\.sensor: .*passwordFile/,
    )
    expect(err.message).not.toContain('hunter2')
    expect(brokerOptionsFromConfig(c, { demo: true }).users).toEqual({ sensor: 'hunter2' })
    process.env.FOGLINE_TEST_BROKER_PW = 'from-env'
    const env = parseConfig(BrokerConfig, { users: { sensor: 'env:FOGLINE_TEST_BROKER_PW' } })
    expect(brokerOptionsFromConfig(env).users).toEqual({ sensor: 'from-env' })
  })

  it('mqtts needs tls; requireCertificate needs tls.ca; a missing PEM or password file is named', () => {
    const base = {
      nodeId: 'n',
      dataDir: '/tmp/x',
      uplink: { urls: ['mqtt://127.0.0.1:1'] },
      pipelines: [{ id: 'p', input: ['a/+'] }],
    }
    const e1 = fail(() =>
      parseConfig(NodeConfig, { ...base, broker: { listeners: [{ type: 'mqtts', port: 0 }] } }),
    )
    expect(e1.where.field).toBe('broker.listeners[0].tls')
    const e2 = fail(() =>
      parseConfig(NodeConfig, {
        ...base,
        broker: {
          listeners: [{ type: 'mqtts', port: 0, tls: { cert: 'c', key: 'k' }, requireCertificate: true }],
        },
      }),
    )
    expect(e2.where.field).toBe('broker.listeners[0].tls.ca')
    const c = parseConfig(BrokerConfig, {
      listeners: [{ type: 'wss', port: 0, tls: { cert: 'nope.pem', key: 'k' } }],
    })
    const e3 = fail(() => brokerOptionsFromConfig(c, { file: '/etc/fogline/node.yaml' }))
    expect(e3.code).toBe('FOG_CONFIG_NOT_FOUND')
    expect(e3.where.field).toBe('broker.listeners[0].tls.cert')
    expect(e3.message).toContain('/etc/fogline/nope.pem')
    const e4 = fail(() => brokerOptionsFromConfig(parseConfig(BrokerConfig, { passwordFile: 'missing' })))
    expect(e4.where.field).toBe('broker.passwordFile')
  })

  it('a node config without broker gets the defaults, limits included', () => {
    const c = parseConfig(NodeConfig, {
      nodeId: 'n',
      dataDir: '/tmp/x',
      uplink: { urls: ['mqtt://127.0.0.1:1'] },
      pipelines: [{ id: 'p', input: ['a/+'] }],
    })
    expect(c.broker).toMatchObject({
      host: '127.0.0.1',
      limits: { maxConnections: 1000, connectTimeout: 10_000 },
    })
    // the product's default listener port (IANA's MQTT port); nothing binds here — tests always bind port 0
    const IANA_MQTT = 1883
    expect(c.broker.port).toBe(IANA_MQTT)
  })
})
