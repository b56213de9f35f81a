import { join } from 'node:path'
import { openSqliteOutbox } from '../src/index.js'
import { runOutboxSuite } from './suite.js'

runOutboxSuite('sqlite', (ctx) =>
  openSqliteOutbox({
    path: join(ctx.dir, 'outbox.db'),
    config: { commitInterval: 2, ...ctx.config },
    ...(ctx.clock ? { clock: ctx.clock } : {}),
  }),
)
