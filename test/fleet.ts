/**
 * The fleet set-up that the cross-package tests (e2e, faults, interop, browser) share: a real cloud and
 * real fog nodes in this process, on port 0, in the test's temp folder, each stopped when the test ends
 * (stop is idempotent, so a test may stop one earlier; `stopWith` hands the stop to a suite's own hook).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Cloud, type CloudOptions, startCloud } from '@fogline/cloud'
import { type FogNode, type StartNodeOptions, startNode } from '@fogline/node'
import { type CloudConfigInput, NodeConfig, type NodeConfigInput, parseConfig } from '@fogline/protocol'
import {
  type AckingStore,
  startAckingStore,
  startTestBroker,
  type TempDir,
  type TestBroker,
  tempDir,
} from '@fogline/testkit'
import mqtt, { type MqttClient } from 'mqtt'
import { onTestFinished } from 'vitest'

/** The aggregates the tests compare with a reference. */
export const AGGREGATES = ['count', 'min', 'max', 'mean', 'sum']

/** One pipeline on `sensors/+/+` with a tumbling processing-time window of `size`. */
export function windowPipeline(size: string, o: { id?: string; decoder?: object } = {}) {
  return {
    id: o.id ?? 'p',
    input: ['sensors/+/+'],
    ...(o.decoder ? { decoder: o.decoder } : {}),
    stages: [{ type: 'window', kind: 'tumbling', size, aggregates: AGGREGATES }],
  }
}

/** One pipeline on `input` with a count window of `count` readings that emits their count. */
export function countPipeline(id: string, input: string, count: number) {
  return { id, input: [input], stages: [{ type: 'window', kind: 'count', count, aggregates: ['count'] }] }
}

/**
 * A stand-in cloud for a test of one node or uplink: an aedes broker on port 0 and an acking SQLite store
 * (`startAckingStore`) in a fresh temp folder `dir` (named `prefix…`); both closed, then the folder removed,
 * when the test ends. Their close is idempotent, so a test may take the cloud away earlier.
 * @example const { broker, store } = await ackingCloud('fogline-metrics-'); store.seqs('n1', 'summary')
 */
export async function ackingCloud(
  prefix: string,
): Promise<{ dir: TempDir; broker: TestBroker; store: AckingStore }> {
  const dir = tempDir(prefix, onTestFinished)
  const broker = await startTestBroker()
  onTestFinished(() => broker.close())
  const store = await startAckingStore(broker.url, dir.file('cloud.db'))
  onTestFinished(() => store.close())
  return { dir, broker, store }
}

/**
 * A cloud with its embedded broker on `port` (0: any), its SQLite store at `dir/file`, HTTP on port 0.
 * @example const cloud = await testCloud(dir); cloud.brokerUrl
 */
export async function testCloud(
  dir: string,
  o: {
    port?: number
    file?: string
    config?: Partial<CloudConfigInput>
    options?: CloudOptions
    stopWith?: (stop: () => Promise<void>) => void
  } = {},
): Promise<Cloud> {
  const cloud = await startCloud(
    {
      broker: { embedded: { host: '127.0.0.1', port: o.port ?? 0 } },
      store: { sqlite: join(dir, o.file ?? 'cloud.db') },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      ...o.config,
    },
    o.options,
  )
  ;(o.stopWith ?? onTestFinished)(() => cloud.stop())
  return cloud
}

/**
 * A fog node uplinked to `cloudUrl`, its data in `dir/<nodeId>`, its broker on port 0; `config` overrides.
 * @example const node = await testNode(dir, 'node-a', cloud.brokerUrl, { pipelines: [windowPipeline('1s')] })
 */
export async function testNode(
  dir: string,
  nodeId: string,
  cloudUrl: string,
  config: Partial<Omit<NodeConfigInput, 'uplink'>> & { uplink?: Partial<NodeConfigInput['uplink']> } = {},
  opts: StartNodeOptions & { stopWith?: (stop: () => Promise<void>) => void } = {},
): Promise<FogNode> {
  const node = await startNode(
    parseConfig(NodeConfig, {
      nodeId,
      dataDir: join(dir, nodeId),
      broker: { port: 0 },
      log: { level: 'silent' },
      ...config,
      uplink: { ...config.uplink, urls: [cloudUrl] },
    }),
    opts,
  )
  ;(opts.stopWith ?? onTestFinished)(() => node.stop())
  return node
}

/**
 * The same node as a config file for `fogline node --config` in a child process (JSON, which YAML reads),
 * written to `dir/node.yaml`; returns its path.
 */
export function nodeConfigFile(
  dir: string,
  nodeId: string,
  cloudUrl: string,
  config: Partial<Omit<NodeConfigInput, 'uplink'>> & { uplink?: Partial<NodeConfigInput['uplink']> } = {},
): string {
  const file = join(dir, 'node.yaml')
  const body = {
    nodeId,
    dataDir: join(dir, nodeId),
    broker: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    ...config,
    uplink: { ...config.uplink, urls: [cloudUrl] },
  }
  writeFileSync(file, JSON.stringify(body, null, 2))
  return file
}

/** An MQTT client standing for the sensors, on a node's broker; ended when the test ends. */
export async function sensors(url: string, clientId?: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, clientId ? { clientId } : {})
  onTestFinished(() => c.endAsync())
  return c
}
