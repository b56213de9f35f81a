import { reportError } from './util.js'

type Command = { run(argv: string[]): Promise<number>; help?: string }

/** Each command loads lazily so `fogline --help` and `fogline keys` do not pay for the whole runtime. */
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: {
    summary: 'run cloud, fog nodes and simulated sensors on this machine',
    load: () => import('./commands/demo.js'),
  },
  node: { summary: 'run one fog node from a config file', load: () => import('./commands/node.js') },
  cloud: {
    summary: 'run the cloud aggregator from a config file',
    load: () => import('./commands/cloud.js'),
  },
  sim: { summary: 'run simulated sensors from a scenario file', load: () => import('./commands/sim.js') },
  status: { summary: 'print the fleet as the cloud sees it', load: () => import('./commands/status.js') },
  push: {
    summary: 'send a signed desired-state update to a node or group',
    load: () => import('./commands/push.js'),
  },
  train: {
    summary: "train a node's or group's anomaly models now (publishes only a better one)",
    load: () => import('./commands/train.js'),
  },
  token: {
    summary: "manage the cloud's API tokens (on the cloud machine)",
    load: () => import('./commands/token.js'),
  },
  migrate: {
    summary: "bring the cloud store's schema to this build's version",
    load: () => import('./commands/migrate.js'),
  },
  audit: {
    summary: "print the cloud's audit log of control actions",
    load: () => import('./commands/audit.js'),
  },
  keys: {
    summary: 'make an Ed25519 key pair for signing desired state',
    load: () => import('./commands/keys.js'),
  },
  passwd: {
    summary: "add, change or delete a user in the broker's password file",
    load: () => import('./commands/passwd.js'),
  },
}

const usage = () => `Usage: fogline <command> [options]

Fogline: a fog/edge runtime for IoT data. Sensors publish MQTT to a fog node;
pipelines turn readings into summaries and events; a durable outbox holds them
until the cloud has stored them, exactly once.

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Run 'fogline <command> --help' for a command's options.
`

/** Run one `fogline` command; resolves to its exit code (errors are printed as code, where, sentence). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return name ? 0 : 1
  }
  const cmd = commands[name]
  if (!cmd) {
    process.stderr.write(`fogline: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  try {
    return await (await cmd.load()).run(rest)
  } catch (err) {
    return reportError(err)
  }
}
