import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir, waitFor } from '@fogline/testkit'
import { connect, type MqttClient } from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { CONNECT, PUBLISH_Q2, type RawClient, rawClient } from '../security/raw.js'
import { startTestCloud, VERBOSE } from './helpers.js'
import { counted, countingNodeYaml, lastLife, runNode } from './kill9-shared.js'

const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.jnl'))

/** a cloud, and the config of a counting node (kill9-shared.ts) that uplinks to it */
async function countingNode(nodeId: string, checkpointMs: number) {
  const d = tempDir('fogline-faults-', onTestFinished)
  const cloud = await startTestCloud(d)
  const dataDir = join(d.path, 'node')
  const cfg = d.file('node.yaml')
  writeFileSync(cfg, countingNodeYaml({ nodeId, dataDir, cloudUrl: cloud.url, checkpointMs, extra: '' }))
  return { cloud, dataDir, cfg }
}

/** a life of the node: its broker's port */
async function life(cfg: string) {
  const child = runNode(cfg)
  const line = await child.waitForLine(/sensors publish to mqtt:/, 30_000)
  return { child, port: Number(/:(\d+)\s*$/.exec(line.trim())![1]) }
}

async function session(port: number, clientId: string, clean: boolean): Promise<RawClient> {
  const raw = await rawClient(port)
  raw.send(CONNECT({ clientId, clean }))
  await raw.next('connack')
  return raw
}

/** PUBLISH (a resend when `dup`), expect its PUBREC */
async function publish(raw: RawClient, id: number, dup = false) {
  raw.send(PUBLISH_Q2(id, dup))
  expect(await raw.next('pubrec')).toMatchObject({ messageId: id })
}

async function pubrel(raw: RawClient, id: number) {
  raw.send({ cmd: 'pubrel', messageId: id })
  expect(await raw.next('pubcomp')).toMatchObject({ messageId: id })
}

describe('QoS 2 across a crash of the node: a resend of a journaled reading is not taken twice', () => {
  it('kill -9 between PUBREC and PUBREL: the resends (DUP) and PUBRELs after the restart count nothing twice; released ids and clean sessions start anew', async () => {
    // checkpoints every 200 ms: the segments that took the ids are deleted while they are held
    const nodeId = 'q2crash'
    const { cloud, dataDir, cfg } = await countingNode(nodeId, 200)

    // life 1: five readings PUBRECed on a persistent session, only one of them completed; one on another
    let l = await life(cfg)
    let p1 = await session(l.port, 'p1', false)
    for (const id of [1, 2, 3, 4, 5]) await publish(p1, id)
    await pubrel(p1, 4)
    let p2 = await session(l.port, 'p2', false)
    await publish(p2, 1)
    // checkpoints delete the journal segments that took the held ids before the kill (the ids are restated)
    const journal = join(dataDir, 'journal')
    const took = segments(journal)
    await waitFor(
      () => !segments(journal).some((n) => took.includes(n)),
      'a checkpoint deletes those segments',
    )
    await l.child.kill9()

    // life 2: p1 resends 1-3 as a client does whose PUBRECs were lost in the crash (3 without DUP, as mqtt.js
    // resends), then completes them and 5
    l = await life(cfg)
    p1 = await session(l.port, 'p1', false)
    for (const id of [1, 2]) await publish(p1, id, true)
    await publish(p1, 3)
    for (const id of [1, 2, 3, 5]) await pubrel(p1, id)
    // a released id is free: a new message on it (DUP 0) is a new reading
    await publish(p1, 2)
    await pubrel(p1, 2)
    // p2 comes back with a clean session: the old session, and its held id, are gone [MQTT-3.1.2-6], so its
    // PUBLISH of id 1 is a new message in the new session (counted), even marked as a resend
    p2 = await session(l.port, 'p2', true)
    await publish(p2, 1, true)
    await pubrel(p2, 1)
    await l.child.kill9()

    // life 3: the releases of life 2 were durable before their PUBCOMPs: id 3 is not held any more, so this
    // PUBLISH (DUP set, as after a first send lost in a crash) is a new reading, not taken for a resend
    l = await life(cfg)
    p1 = await session(l.port, 'p1', false)
    await publish(p1, 3, true)
    await pubrel(p1, 3)
    await l.child.kill9()

    const count = () => counted(cloud, nodeId)
    const records = await lastLife(cfg, join(dataDir, 'outbox.db'), count, 'the cloud count settled')
    expect(records).toBe(0)
    // life 1: 5 + 1; life 2: p1's new id 2, p2's new session; life 3: p1's new id 3. Without the held ids the
    // three resends of life 2 count again (12)
    expect(await count()).toBe(9)
  }, 90_000)

  it('10 kills at random moments under QoS 2 load from mqtt.js sessions (clean: false) that resend across them: every reading sent is counted exactly once', async () => {
    const nodeId = 'q2sessions'
    const { cloud, dataDir, cfg } = await countingNode(nodeId, 1000)
    const pub = sessions(4, 16)
    onTestFinished(() => pub.end())
    const lives: string[] = []
    for (let i = 0; i < 10; i++) {
      const l = await life(cfg)
      pub.moveTo(l.port)
      const done0 = pub.tally.completed
      // random moments, by PUBCOMPs (a few thousand a second here): kills inside a checkpoint interval and
      // after one or more, some while the sessions are still resending what the last kill left
      const killAt = 200 + Math.floor(Math.random() * 8000)
      await pub.completedReach(done0 + killAt)
      await l.child.kill9()
      lives.push(`${killAt}:${pub.tally.completed - done0}`)
    }
    // the last life: no new readings; every session resends what it has in flight and completes it
    pub.stopSending()
    const l = await life(cfg)
    pub.moveTo(l.port)
    await waitFor(() => pub.inflight() === 0, 'every reading sent is PUBCOMPed', 30_000)
    pub.end()
    await l.child.kill9()
    const count = () => counted(cloud, nodeId)
    const records = await lastLife(cfg, join(dataDir, 'outbox.db'), count, 'the cloud count settled')
    const n = await count()
    if (VERBOSE) console.log({ ...pub.tally, counted: n, lives: lives.join(' ') })
    expect(records).toBe(0)
    expect(pub.tally.sent).toBeGreaterThan(1000)
    expect(pub.tally.completed).toBe(pub.tally.sent)
    // exactly once: none lost, none taken twice from a resend after a kill
    expect(n).toBe(pub.tally.sent)
  }, 150_000)
})

/**
 * mqtt.js clients with persistent sessions (`clean: false`, fixed client ids) publishing value 1 at QoS 2, at
 * most `window` in flight each; they outlive the node's lives: `moveTo(port)` points them at the next one, and
 * on reconnecting they resend from their store what the kill left unfinished (PUBLISH, or PUBREL after a
 * PUBREC).
 */
function sessions(conns: number, window: number) {
  const tally = { sent: 0, completed: 0 }
  const clients: Array<{ cl: MqttClient; inflight: number }> = []
  let goal: { at: number; reached: () => void } | null = null
  let sending = true
  let port = 0
  const pump = (c: { cl: MqttClient; inflight: number }, i: number) => {
    while (sending && c.cl.connected && c.inflight < window) {
      c.inflight++
      tally.sent++
      c.cl.publish(`sensors/p${i}/m`, '{"value":1}', { qos: 2 }, (err) => {
        if (err) throw err
        c.inflight--
        tally.completed++
        if (goal && tally.completed >= goal.at) {
          goal.reached()
          goal = null
        }
        // a new reading per PUBCOMP, on the next turn: the node is loaded, not flooded, while it is killed
        setTimeout(() => pump(c, i), 1) // chaos pacing: the load the kills cut into, not a wait
      })
    }
  }
  return {
    tally,
    inflight: () => clients.reduce((n, c) => n + c.inflight, 0),
    /** resolves once `n` readings in all have been PUBCOMPed */
    completedReach: (n: number) =>
      new Promise<void>((reached) => {
        if (tally.completed >= n) reached()
        else goal = { at: n, reached }
      }),
    moveTo(p: number) {
      port = p
      if (clients.length === 0)
        for (let i = 0; i < conns; i++) {
          const cl = connect({
            host: '127.0.0.1',
            port,
            protocolVersion: 4,
            clean: false,
            clientId: `q2s-${i}`,
            reconnectPeriod: 50,
            connectTimeout: 2000,
          })
          const c = { cl, inflight: 0 }
          cl.on('error', () => {})
          cl.on('connect', () => pump(c, i))
          clients.push(c)
        }
      // each reconnect goes to the port in its options
      else for (const c of clients) c.cl.options.port = port
    },
    stopSending() {
      sending = false
    },
    end() {
      for (const c of clients) c.cl.end(true)
    },
  }
}
