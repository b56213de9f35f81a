/** The `fogline` command as a function: `await main(['status', '--url', url])` returns the exit code. */
export { main } from './main.js'
