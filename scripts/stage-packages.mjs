#!/usr/bin/env node
// Stages the npm packages as publishing makes them, and checks them:
//
//   node scripts/stage-packages.mjs <artifacts-dir> <stage-dir> [--built TARGET,TARGET,…]
//
// <stage-dir> must be inside this git checkout (`napi pre-publish` reads the last commit).
// <artifacts-dir> holds the built addons (`ld-release.<platform>.node`, in subfolders or
// not, as the workflow downloads them). In <stage-dir>/package: the root package as `npm pack`
// makes it, unpacked; its npm/<platform> folders made by `napi create-npm-dirs`, the addons
// moved in by `napi artifacts`, and the versions and `optionalDependencies` set by
// `napi pre-publish` (which publishes nothing here: --skip-optional-publish). The release
// workflow then publishes each npm/<platform> folder and the root folder as they are.
//
// Checked: each platform package has the `os`, `cpu` and `libc` npm matches for its target,
// the root package's version, and holds exactly its own addon (a Linux one checked again as
// scripts/build-target.mjs checks it: ELF machine, glibc floor, Node-API entry point); the root package holds no
// addon and lists every platform package in `optionalDependencies` at its own version.
// Without --built every target of package.json's `napi.targets` must be there; with it, only
// those (CI builds the Linux ones), and the staged packages are those.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkLinuxAddon, platformOf } from './build-target.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const NAPI = join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** What npm matches a target's package on: `os`, `cpu` and (Linux) `libc`. */
export function expectedFields(target) {
  const [arch, , os, abi] = target.split('-')
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  if (os === 'linux') return { os: ['linux'], cpu: [cpu], libc: [abi === 'musl' ? 'musl' : 'glibc'] }
  return { os: [os === 'windows' ? 'win32' : os], cpu: [cpu] }
}

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
const napi = (args, cwd) => run(process.execPath, [NAPI, ...args], cwd)

function main(argv) {
  const args = [...argv]
  let built = pkg.napi.targets
  const at = args.indexOf('--built')
  if (at !== -1) {
    built = (args[at + 1] ?? '').split(',').filter(Boolean)
    args.splice(at, 2)
    const unknown = built.filter((t) => !pkg.napi.targets.includes(t))
    if (unknown.length || built.length === 0) throw new Error(`--built: not targets of package.json: ${unknown.join(', ') || '(none)'}`)
  }
  if (args.length !== 2) throw new Error('usage: stage-packages.mjs <artifacts-dir> <stage-dir> [--built TARGET,…]')
  const [artifacts, stage] = args.map((a) => resolve(a))

  // The root package as npm packs it.
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(stage, { recursive: true })
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', stage], ROOT).trim().split('\n').pop()
  run('tar', ['-xzf', join(stage, tarball), '-C', stage])
  rmSync(join(stage, tarball))
  const dir = join(stage, 'package')
  if (built.length !== pkg.napi.targets.length) {
    // Only the targets built: napi's commands then expect those alone.
    const staged = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    staged.napi.targets = built
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`)
  }

  // Only the addons from the artifacts (a build's folder also holds its index.js).
  const addonsDir = join(stage, 'addons')
  mkdirSync(addonsDir)
  const found = readdirSync(artifacts, { recursive: true }).filter((f) => f.endsWith('.node'))
  for (const file of found) copyFileSync(join(artifacts, file), join(addonsDir, basename(file)))
  napi(['create-npm-dirs'], dir)
  napi(['artifacts', '--output-dir', addonsDir], dir)
  napi(['pre-publish', '-t', 'npm', '--skip-optional-publish'], dir)
  // `napi artifacts` also copies the addons beside the root package's index.js (for local
  // use); the published root package must not carry them, and its `files` leave them out.
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))

  const problems = []
  const packed = (folder) => JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], folder))[0]
  const rootFiles = packed(dir).files.map((f) => f.path)
  const rootAddons = rootFiles.filter((f) => f.endsWith('.node'))
  if (rootAddons.length) problems.push(`the root package carries ${rootAddons.join(', ')}`)
  const optional = manifest.optionalDependencies ?? {}
  const expectedNames = built.map((t) => `${pkg.name}-${platformOf(t)}`)
  const extra = Object.keys(optional).filter((name) => !expectedNames.includes(name))
  if (extra.length) problems.push(`optionalDependencies lists packages not built: ${extra.join(', ')}`)

  for (const target of built) {
    const platform = platformOf(target)
    const name = `${pkg.name}-${platform}`
    const folder = join(dir, 'npm', platform)
    const addon = `${pkg.napi.binaryName}.${platform}.node`
    if (optional[name] !== pkg.version) problems.push(`optionalDependencies["${name}"] is ${optional[name]}, expected ${pkg.version}`)
    const platformPkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
    if (platformPkg.name !== name) problems.push(`${folder}: name ${platformPkg.name}, expected ${name}`)
    if (platformPkg.version !== pkg.version) problems.push(`${name}: version ${platformPkg.version}, expected ${pkg.version}`)
    if (platformPkg.main !== addon) problems.push(`${name}: main is ${platformPkg.main}, expected ${addon}`)
    for (const [field, value] of Object.entries({ libc: undefined, ...expectedFields(target) })) {
      if (JSON.stringify(platformPkg[field]) !== JSON.stringify(value)) {
        problems.push(`${name}: "${field}" is ${JSON.stringify(platformPkg[field])}, expected ${JSON.stringify(value)}`)
      }
    }
    const files = packed(folder).files.map((f) => f.path)
    const addons = files.filter((f) => f.endsWith('.node'))
    if (addons.length !== 1 || addons[0] !== addon) problems.push(`${name}: holds ${addons.join(', ') || 'no addon'}, expected exactly ${addon}`)
    if (target.includes('-linux-') && addons.length === 1) {
      // The file published is the one the build checked: machine, glibc floor, entry point.
      try {
        checkLinuxAddon(join(folder, addon), target)
      } catch (error) {
        problems.push(`${name}: ${error.message}`)
      }
    }
    console.log(`${name}@${platformPkg.version}: os ${platformPkg.os}, cpu ${platformPkg.cpu}${platformPkg.libc ? `, libc ${platformPkg.libc}` : ''}; files ${files.join(', ')}`)
  }
  const stagedPlatforms = readdirSync(join(dir, 'npm')).sort()
  const builtPlatforms = built.map(platformOf).sort()
  if (JSON.stringify(stagedPlatforms) !== JSON.stringify(builtPlatforms)) problems.push(`npm/ holds ${stagedPlatforms.join(', ')}, expected ${builtPlatforms.join(', ')}`)
  console.log(`${pkg.name}@${manifest.version}: optionalDependencies ${JSON.stringify(optional)}; files ${rootFiles.length}, no addon`)

  if (problems.length) throw new Error(`the staged packages are wrong:\n- ${problems.join('\n- ')}`)
  console.log(`stage-packages: ${built.length} platform packages and the root package staged in ${dir}`)
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2))
  } catch (error) {
    console.error(`stage-packages: ${error.message}`)
    process.exit(1)
  }
}
