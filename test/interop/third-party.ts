import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * The third-party MQTT clients the interop suites drive: Mosquitto's `mosquitto_pub` (C, libmosquitto) and
 * Eclipse Paho for Python, both Debian packages that .ci/install-deps.sh installs. In CI a missing one fails
 * loudly at import; elsewhere a suite skips itself on `!thirdPartyClients` with the reason in its name.
 */
export const PYTHON = '/usr/bin/python3'
const hasMosquittoPub = existsSync('/usr/bin/mosquitto_pub')
const hasPaho = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import paho.mqtt.client']).status === 0
export const thirdPartyClients = hasMosquittoPub && hasPaho
if (process.env.CI && !thirdPartyClients)
  throw new Error(
    `interop clients missing (mosquitto_pub: ${hasMosquittoPub}, python3-paho-mqtt: ${hasPaho}): run .ci/install-deps.sh`,
  )

/** Run a client to its exit, with `input` on stdin; its stdout and stderr together. */
export function run(cmd: string, args: string[], input = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => {
      out += d
    })
    p.stderr.on('data', (d) => {
      out += d
    })
    p.on('close', (code) => resolve({ code, out }))
    p.stdin.end(input)
  })
}
