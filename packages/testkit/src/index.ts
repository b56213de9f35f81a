export { type AckingStore, startAckingStore } from './acker.js'
export { startTestBroker, type TestBroker } from './broker.js'
export { type CertFiles, type CertOptions, makeTestCa, type TestCa } from './certs.js'
export { type ChildRun, runTsChild } from './child.js'
export { type FakeClock, fakeClock } from './clock.js'
export { errorOf } from './errors.js'
export { bearerFetch } from './http.js'
export { type FaultProxy, type ProxyMode, type ProxyShape, startFaultProxy } from './proxy.js'
export {
  MOSQUITTO_URL,
  mosquittoAvailable,
  POSTGRES_URL,
  pgDatabase,
  pgSchema,
  postgresAvailable,
} from './services.js'
export { type TempDir, tempDir, waitFor } from './tmp.js'
