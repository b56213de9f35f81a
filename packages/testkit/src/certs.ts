import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A PEM certificate and its key, as files and as text. */
export interface CertFiles {
  certPath: string
  keyPath: string
  cert: string
  key: string
}

export interface CertOptions {
  /** subject CN */
  cn: string
  /** subjectAltName entries, e.g. ['DNS:localhost', 'IP:127.0.0.1'] */
  san?: string[]
  /** validity in days; negative makes a certificate that has already expired */
  days?: number
}

/** A throwaway CA in a temp folder that signs certificates; `dispose` removes every key it made. */
export interface TestCa extends CertFiles, AsyncDisposable {
  dir: string
  issue(name: string, opts: CertOptions): CertFiles
  dispose(): void
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/**
 * Make a CA with the machine's `openssl` (EC P-256) at test time, so no private key is ever committed.
 * @example await using ca = makeTestCa('fog'); const srv = ca.issue('server', { cn: 'localhost', san: ['IP:127.0.0.1'] })
 */
export function makeTestCa(name = 'fogline-test-ca'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'fogline-certs-'))
  openssl(
    ['req', '-x509', ...KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`],
    dir,
  )
  const files = (base: string): CertFiles => ({
    certPath: join(dir, `${base}.pem`),
    keyPath: join(dir, `${base}.key`),
    cert: readFileSync(join(dir, `${base}.pem`), 'utf8'),
    key: readFileSync(join(dir, `${base}.key`), 'utf8'),
  })
  let serial = 1
  const dispose = () => rmSync(dir, { recursive: true, force: true })
  return {
    ...files('ca'),
    dir,
    issue(base, opts) {
      openssl(
        ['req', ...KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${opts.cn}`],
        dir,
      )
      const ext = [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(opts.san?.length ? [`subjectAltName=${opts.san.join(',')}`] : []),
      ]
      writeFileSync(join(dir, `${base}.ext`), `${ext.join('\n')}\n`)
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-set_serial',
          String(++serial),
          '-days',
          String(opts.days ?? 2),
          '-extfile',
          `${base}.ext`,
          '-out',
          `${base}.pem`,
        ],
        dir,
      )
      return files(base)
    },
    dispose,
    [Symbol.asyncDispose]: async () => dispose(),
  }
}
