// Runs one CLI command module in a child process: `node --conditions=source --import tsx cli-child.ts push ...`
const [cmd, ...args] = process.argv.slice(2)
const mod =
  cmd === 'keys'
    ? await import('../../packages/cli/src/commands/keys.js')
    : await import('../../packages/cli/src/commands/push.js')
process.exitCode = await mod.run(args)
