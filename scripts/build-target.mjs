#!/usr/bin/env node
// Builds the release addon for one target, the way it ships: the release workflow and
// `.ci/run` both call this, so what is published is what CI built and tested.
//
//   npm run build:target <target> [-- --out-dir DIR]
//   node scripts/build-target.mjs <target> [--out-dir DIR]
//
// <target> is one of package.json's `napi.targets`. Linux targets build through zig
// (cargo-zigbuild): glibc ones against glibc 2.17, so the addon loads on every glibc from
// 2.17 on; musl ones against zig's musl. macOS and Windows targets build natively, on a
// runner of that OS. The tools a build needs are installed when missing, at the pinned
// versions below (the Rust target with rustup, cargo-zigbuild with cargo, zig from PyPI's
// `ziglang` into a cache folder); running the script again installs nothing and rebuilds
// only what changed.
//
// After a Linux build the addon is checked: its ELF machine, the highest glibc symbol
// version it needs (at most 2.17), and the Node-API entry point it exports.
//
// --out-dir DIR puts the addon (and the generated index.js and index.d.ts) in DIR instead of
// the project folder. Environment: TOOLS_CACHE_DIR (default ~/.cache/ld-release-tools)
// holds zig; CARGO_TARGET_DIR is honoured as usual.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Pinned tool versions: the workflow and CI get these from this file. */
export const ZIG_VERSION = '0.14.1'
export const CARGO_ZIGBUILD_VERSION = '0.24.1'
/** The oldest glibc the linux-gnu addons run on. */
export const GLIBC_FLOOR = '2.17'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** The ELF machine (as `readelf -h` names it) of each Linux target's addon. */
const ELF_MACHINE = { x86_64: 'Advanced Micro Devices X86-64', aarch64: 'AArch64' }

/** How each kind of target builds: the napi arguments, and whether zig is needed. */
export function buildPlan(target) {
  if (!pkg.napi.targets.includes(target)) {
    throw new Error(`unknown target "${target}": expected one of ${pkg.napi.targets.join(', ')}`)
  }
  if (target.endsWith('-linux-gnu')) return { zig: true, napiTarget: `${target}.${GLIBC_FLOOR}`, args: ['-x'] }
  if (target.endsWith('-linux-musl')) return { zig: true, napiTarget: target, args: ['-x'] }
  return { zig: false, napiTarget: target, args: [] }
}

/** The platform part of the addon's file name, as napi names it (`linux-x64-gnu`). */
export function platformOf(target) {
  const [arch, , os, abi] = target.split('-')
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  if (os === 'darwin') return `darwin-${cpu}`
  if (os === 'windows') return `win32-${cpu}-${abi}`
  return `linux-${cpu}-${abi}`
}

const log = (message) => console.error(`build-target: ${message}`)
const output = (cmd, args, options = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options })
  return r.status === 0 ? r.stdout.trim() : null
}
function run(cmd, args, options = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`)
  execFileSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...options })
}

/** Adds the Rust target with rustup when it is missing. */
function ensureRustTarget(target) {
  const installed = output('rustup', ['target', 'list', '--installed'])
  if (installed === null) {
    log('rustup not found: assuming the Rust toolchain has the target')
    return
  }
  if (!installed.split('\n').includes(target)) run('rustup', ['target', 'add', target])
}

/** cargo-zigbuild at the pinned version, installed with cargo when missing or different. */
function ensureCargoZigbuild() {
  if (output('cargo-zigbuild', ['--version']) === `cargo-zigbuild ${CARGO_ZIGBUILD_VERSION}`) return
  run('cargo', ['install', '--locked', `cargo-zigbuild@${CARGO_ZIGBUILD_VERSION}`])
}

/**
 * The folder holding a `zig` of the pinned version: the one on PATH if it is that version,
 * else zig from PyPI's `ziglang` wheel in the cache folder (installed there when missing).
 */
function ensureZig() {
  if (output('zig', ['version']) === ZIG_VERSION) return null
  const cache = process.env.TOOLS_CACHE_DIR || join(homedir(), '.cache', 'ld-release-tools')
  const home = join(cache, `ziglang-${ZIG_VERSION}`)
  const bin = join(home, 'ziglang')
  if (output(join(bin, 'zig'), ['version']) !== ZIG_VERSION) {
    rmSync(home, { recursive: true, force: true })
    mkdirSync(cache, { recursive: true })
    const python = output('python3', ['--version']) !== null ? 'python3' : 'python'
    run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', '--target', home, `ziglang==${ZIG_VERSION}`])
    const version = output(join(bin, 'zig'), ['version'])
    if (version !== ZIG_VERSION) throw new Error(`zig from ziglang==${ZIG_VERSION} reports ${version}`)
  }
  return bin
}

/** Compares dotted versions: negative, zero or positive. */
const compareVersions = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number))
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/**
 * Checks a Linux addon with readelf: the ELF machine of its target, a shared object that
 * exports `napi_register_module_v1`, and (glibc) no symbol version above the floor.
 * Returns what it found; throws on the first failure.
 */
export function checkLinuxAddon(file, target) {
  const arch = target.split('-')[0]
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' })
  const machine = /^\s*Machine:\s*(.+)$/m.exec(header)?.[1].trim()
  if (machine !== ELF_MACHINE[arch]) throw new Error(`${file}: ELF machine "${machine}", expected "${ELF_MACHINE[arch]}" for ${target}`)
  if (!/^\s*Type:\s*DYN\b/m.test(header)) throw new Error(`${file}: not a shared object`)
  const symbols = execFileSync('readelf', ['--dyn-syms', '--wide', file], { encoding: 'utf8' })
  // Num: Value Size Type Bind Vis Ndx Name: defined (Ndx not UND), global, a function.
  const entry = symbols.split('\n').find((line) => / napi_register_module_v1$/.test(line))
  const fields = entry?.trim().split(/\s+/)
  if (!fields || fields[3] !== 'FUNC' || fields[4] !== 'GLOBAL' || fields[6] === 'UND') {
    throw new Error(`${file}: does not export the Node-API entry point napi_register_module_v1 (${entry?.trim() ?? 'absent'})`)
  }
  const needs = execFileSync('readelf', ['--version-info', '--wide', file], { encoding: 'utf8' })
  const glibc = [...needs.matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1]).sort(compareVersions)
  const highest = glibc.at(-1) ?? null
  const libc = /^\s*0x[0-9a-f]+ \(NEEDED\)\s+Shared library: \[(libc\.[^\]]+)\]/m.exec(execFileSync('readelf', ['-d', file], { encoding: 'utf8' }))?.[1]
  if (target.endsWith('-gnu')) {
    if (libc !== 'libc.so.6') throw new Error(`${file}: needs ${libc ?? 'no libc'}, expected glibc's libc.so.6`)
    if (!highest) throw new Error(`${file}: no GLIBC symbol versions found`)
    if (compareVersions(highest, GLIBC_FLOOR) > 0) throw new Error(`${file}: needs GLIBC_${highest}, above the floor ${GLIBC_FLOOR}`)
  } else if (highest) {
    throw new Error(`${file}: a musl addon needs GLIBC_${highest}`)
  } else if (libc !== 'libc.so') {
    throw new Error(`${file}: needs ${libc ?? 'no libc'}, expected musl's libc.so`)
  }
  return { machine, glibc: highest, libc }
}

function main(argv) {
  const args = [...argv]
  let outDir = null
  const at = args.indexOf('--out-dir')
  if (at !== -1) {
    outDir = resolve(args[at + 1] ?? '')
    if (!args[at + 1]) throw new Error('--out-dir needs a folder')
    args.splice(at, 2)
  }
  if (args.length !== 1 || args[0].startsWith('-')) {
    throw new Error(`usage: build-target.mjs <target> [--out-dir DIR]; targets: ${pkg.napi.targets.join(', ')}`)
  }
  const [target] = args
  const plan = buildPlan(target)
  ensureRustTarget(target)
  const env = { ...process.env }
  if (plan.zig) {
    ensureCargoZigbuild()
    const zigBin = ensureZig()
    if (zigBin) env.PATH = `${zigBin}${delimiter}${env.PATH}`
    log(`zig ${output('zig', ['version'], { env })}, cargo-zigbuild ${CARGO_ZIGBUILD_VERSION}`)
  }
  const napi = join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  const napiArgs = ['build', '--platform', '--release', '--target', plan.napiTarget, ...plan.args]
  if (outDir) {
    mkdirSync(outDir, { recursive: true })
    napiArgs.push('--output-dir', outDir)
  }
  const started = Date.now()
  run(process.execPath, [napi, ...napiArgs], { env })
  const file = join(outDir ?? ROOT, `${pkg.napi.binaryName}.${platformOf(target)}.node`)
  if (!existsSync(file)) throw new Error(`the build did not produce ${file}`)
  log(`${file} built in ${Math.round((Date.now() - started) / 1000)} s`)
  if (target.includes('-linux-')) {
    const found = checkLinuxAddon(file, target)
    log(`${file}: ${found.machine}, ${found.libc}${found.glibc ? `, highest GLIBC_${found.glibc}` : ''}, exports napi_register_module_v1`)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2))
  } catch (error) {
    log(error.message)
    process.exit(1)
  }
}
