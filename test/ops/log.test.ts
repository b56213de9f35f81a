import { Writable } from 'node:stream'
import { createNodeLogs } from '@fogline/node'
import { describe, expect, it } from 'vitest'

describe('node logs', () => {
  it('JSON lines with a level per module: a module set to debug logs debug while the rest stays at info', () => {
    const lines: Array<Record<string, unknown>> = []
    const destination = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l))
        cb()
      },
    })
    const logs = createNodeLogs({
      name: 'fogline-node:n1',
      level: 'info',
      modules: { uplink: 'debug', broker: 'warn' },
      destination,
    })
    logs.module('uplink').debug('connecting')
    logs.module('pipeline').debug('not shown')
    logs.module('pipeline').info('reloaded')
    logs.module('broker').info('not shown either')
    logs.module('broker').warn('refused a client')
    logs.root.debug('root stays at info')
    expect(logs.pretty).toBe(false)
    expect(lines.map((l) => [l['module'], l['level'], l['msg'], l['name']])).toEqual([
      ['uplink', 20, 'connecting', 'fogline-node:n1'],
      ['pipeline', 30, 'reloaded', 'fogline-node:n1'],
      ['broker', 40, 'refused a client', 'fogline-node:n1'],
    ])
  })
})
