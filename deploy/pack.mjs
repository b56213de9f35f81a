#!/usr/bin/env node
// Builds the gateway tarball: the built dist/ of every @fogline package the `fogline` command needs, plus
// their production dependencies only, copied from this checkout's node_modules (no registry access, no
// dev tools). npm computes the set (`npm ls --omit=dev`), so the tarball holds exactly what
// `npm ci --omit=dev` would install, in the same node_modules layout.
//
//   node deploy/pack.mjs [--out DIR]     (npm run pack:gateway runs the build first)
//
// Native modules (better-sqlite3, msgpackr-extract) are the ones built here, so a tarball is for one
// platform, CPU and Node major: its name says which (…-linux-arm64-node20.tar.gz). Pack on the gateway's
// architecture (on the Pi itself, or an arm64 CI runner).
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outArg = process.argv.indexOf('--out')
const outDir = outArg > 0 ? process.argv[outArg + 1] : join(root, 'dist-gateway')
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const version = rootPkg.version
const target = `linux-${process.arch}-node${process.versions.node.split('.')[0]}`
const name = `fogline-${version}-${target}`

for (const p of ['packages/cli/dist/bin.js', 'packages/node/dist/index.js', 'packages/cloud/dist/index.js'])
  if (!existsSync(join(root, p))) throw new Error(`${p} is missing: run npm run build first`)

// every production dependency of the CLI (it pulls in node, cloud, simulators), as paths under node_modules
const listed = execFileSync('npm', ['ls', '-w', 'packages/cli', '--omit=dev', '--all', '--parseable'], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 16 * 1024 * 1024,
})
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l.startsWith(join(root, 'node_modules') + sep))
const paths = [...new Set(listed)].sort()

const stage = join(tmpdir(), `fogline-pack-${process.pid}`)
const top = join(stage, 'fogline')
rmSync(stage, { recursive: true, force: true })
mkdirSync(top, { recursive: true })

// third-party folders are copied without their nested node_modules (npm lists those separately) and
// without build leftovers: better-sqlite3 keeps only its compiled binding (17 MiB of objects and the
// SQLite amalgamation are not needed at run time)
const KEEP_SQLITE = new Set([
  'build',
  join('build', 'Release'),
  join('build', 'Release', 'better_sqlite3.node'),
])
const keep = (pkgDir, src) => {
  const rel = relative(pkgDir, src)
  if (rel === 'node_modules') return false
  if (basename(pkgDir) !== 'better-sqlite3') return true
  if (rel === 'deps' || rel === 'src') return false
  return !rel.startsWith('build') || KEEP_SQLITE.has(rel)
}
let copied = 0
for (const p of paths) {
  const rel = relative(root, p)
  const dest = join(top, rel)
  if (lstatSync(p).isSymbolicLink()) {
    // a workspace package: its package.json and the folders its `files` names (dashboard: its public/ too)
    const real = realpathSync(p)
    const pkg = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8'))
    mkdirSync(dest, { recursive: true })
    delete pkg.devDependencies
    delete pkg.scripts
    writeFileSync(join(dest, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
    for (const f of [...(pkg.files ?? []), 'public'])
      if (existsSync(join(real, f))) cpSync(join(real, f), join(dest, f), { recursive: true })
  } else {
    cpSync(p, dest, {
      recursive: true,
      filter: (src) => keep(p, src),
    })
  }
  copied++
}

// the command, the units, the installer and example configs
mkdirSync(join(top, 'bin'))
cpSync(join(root, 'deploy', 'fogline.sh'), join(top, 'bin', 'fogline'))
chmodSync(join(top, 'bin', 'fogline'), 0o755)
mkdirSync(join(top, 'deploy'))
for (const f of ['install.sh', 'fogline-node.service', 'fogline-cloud.service', 'node.yaml', 'cloud.yaml'])
  cpSync(join(root, 'deploy', f), join(top, 'deploy', f))
let commit = 'unknown'
try {
  commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
} catch {}
const manifest = {
  name: 'fogline-gateway',
  version,
  private: true,
  description: 'Fogline gateway install: built packages and production dependencies only',
  bin: { fogline: 'bin/fogline' },
  fogline: { target, node: process.versions.node, abi: process.versions.modules, commit, packages: copied },
}
writeFileSync(join(top, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)

mkdirSync(outDir, { recursive: true })
const tarball = join(outDir, `${name}.tar.gz`)
execFileSync('tar', ['-czf', tarball, '-C', stage, 'fogline'])
rmSync(stage, { recursive: true, force: true })
const size = lstatSync(tarball).size
process.stdout.write(`${tarball}\n  ${copied} packages, ${(size / 1024 / 1024).toFixed(1)} MiB, ${target}\n`)
