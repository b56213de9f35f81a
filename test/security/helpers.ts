import { type Broker, type BrokerOptions, startBroker } from '@fogline/broker'
import type { CertFiles } from '@fogline/testkit'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { onTestFinished } from 'vitest'

/** Log lines a broker wrote, as objects with `msg`. */
export function captureLog() {
  const lines: Array<Record<string, unknown> & { msg: string; level: string }> = []
  return {
    lines,
    warn: (o: object, msg: string) => void lines.push({ ...o, msg, level: 'warn' }),
    info: (o: object, msg: string) => void lines.push({ ...o, msg, level: 'info' }),
  }
}

/**
 * An mqtts listener on 127.0.0.1, port 0, serving `server`'s certificate and requiring a client certificate
 * signed by `ca` (its CN is the user name): as file paths for a node or cloud config (`files`), or as PEM
 * text for `startBroker` (`pem`).
 * @example startBroker({ listeners: [mtlsListener(server, ca, 'pem')] })
 */
export function mtlsListener(server: CertFiles, ca: CertFiles, form: 'files' | 'pem' = 'files') {
  const tls =
    form === 'files'
      ? { cert: server.certPath, key: server.keyPath, ca: ca.certPath }
      : { cert: server.cert, key: server.key, ca: ca.cert }
  return { type: 'mqtts' as const, host: '127.0.0.1', port: 0, tls, requireCertificate: true }
}

/** A broker on port 0 that the test disposes. */
export async function broker(opts: BrokerOptions = {}): Promise<Broker> {
  const b = await startBroker({ port: 0, ...opts })
  onTestFinished(() => b.close())
  return b
}

/**
 * Connect with mqtt.js; resolves the client, or the CONNACK code / TLS error code it was refused with
 * ('closed' when the server just closed the socket, as after a refused client certificate).
 */
export function tryConnect(
  url: string,
  opts: IClientOptions = {},
): Promise<{ client?: MqttClient; code?: number | string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    onTestFinished(() => client.endAsync(true))
    client.once('connect', () => resolve({ client }))
    client.once('error', (e: Error & { code?: number | string }) => resolve({ code: e.code ?? e.message }))
    client.once('close', () => resolve({ code: 'closed' }))
  })
}
