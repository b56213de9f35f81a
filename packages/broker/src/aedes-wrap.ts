import type { Aedes } from 'aedes'
import type { BrokerCounters, BrokerLogger } from './counters.js'
import { durableQos2Ids, type Qos2Ids } from './durable.js'
import type { BrokerLimits } from './limits.js'

/**
 * The small wrapper around aedes' own behaviour (not a fork): a publish the ACL denied is acknowledged and then
 * dropped, aedes' own QoS 2 window check is counted as the maxInflight limit, and (with `qos2Ids`) its QoS 2
 * incoming store is backed by ids that outlive the process (`durableQos2Ids`).
 */
export function wrapAedes(
  broker: Aedes,
  ctx: {
    dropped: WeakSet<object>
    limits: BrokerLimits
    counters: BrokerCounters
    log: BrokerLogger
    qos2Ids?: Qos2Ids | undefined
  },
): void {
  const { dropped, limits, counters, log } = ctx
  if (ctx.qos2Ids) durableQos2Ids(broker, ctx.qos2Ids)
  // a publish outside the client's ACL was acknowledged by aedes and must go no further [MQTT-3.3.5-2]
  const publish = broker.publish.bind(broker)
  broker.publish = ((packet: object, client: unknown, done: (err?: Error) => void) =>
    dropped.has(packet)
      ? done()
      : (publish as (p: object, c: unknown, d: unknown) => void)(packet, client, done)) as never

  // aedes enforces maxInflightInbound itself (a whole read chunk is checked at once, which a hook cannot see);
  // a client error while the client's QoS 2 window is full is that limit
  const overInflight = new WeakSet<object>()
  broker.on('clientError', (client) => {
    const inflight = (client as unknown as { _inboundInflight?: Set<number> })._inboundInflight
    if (!inflight || inflight.size < limits.maxInflight || overInflight.has(client)) return
    overInflight.add(client)
    counters.limits.maxInflight++
    log.warn({ limit: 'maxInflight', clientId: client.id, max: limits.maxInflight }, 'limit maxInflight hit')
  })
}
