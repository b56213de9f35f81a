import { join } from 'node:path'
import { startBroker } from '@fogline/broker'
import { startNode } from '@fogline/node'
import { NodeConfig, parseConfig } from '@fogline/protocol'
import { tempDir, waitFor } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'

describe('the uplink refused by the cloud broker (wrong credentials)', () => {
  for (const protocolVersion of [4, 5] as const) {
    it(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}: the node says FOG_AUTH_FAILED naming the setting, keeps its records, and connects once the password is right`, async () => {
      const d = tempDir('fogline-auth-')
      onTestFinished(() => d.remove())
      // a cloud-side broker that wants a login (aedes speaks 3.1.1; the v5 case falls back, as against an old broker)
      const cloud = await startBroker({ port: 0, users: { 'node-x': 'right' } })
      onTestFinished(() => cloud.close())
      const start = async (password: string) => {
        const node = await startNode(
          parseConfig(NodeConfig, {
            nodeId: 'node-x',
            dataDir: join(d.path, 'node'),
            broker: { port: 0 },
            uplink: {
              urls: [cloud.url],
              username: 'node-x',
              password,
              protocolVersion: protocolVersion === 4 ? 4 : 'auto',
              reconnect: { min: '50ms', max: '200ms' },
            },
            log: { level: 'silent' },
            pipelines: [{ id: 'p', input: ['sensors/+/+'] }],
          }),
        )
        onTestFinished(() => node.stop())
        return node
      }
      const bad = await start('wrong')
      const err = await waitFor(() => bad.stats().lastError, 'an error on the node')
      expect(err).toMatchObject({ code: 'FOG_AUTH_FAILED', where: { field: 'uplink.username' } })
      expect(err.message).toMatch(/^the cloud broker refused the node's credentials \(check uplink\.username/)
      expect(bad.stats().connected).toBe(false)
      await bad.stop()

      const good = await start('right')
      await waitFor(() => good.stats().connected, 'connected with the right password')
      expect(good.stats().lastError).toBeNull()
    })
  }
})
