// The release build scripts (scripts/build-target.mjs, scripts/stage-packages.mjs): the
// names, npm fields and build plans they derive for every target agree with what napi
// generates, and the addon checks accept the addon built here and reject it for another
// target. (.ci/targets runs the scripts themselves on the four Linux targets.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GLIBC_FLOOR, buildPlan, checkLinuxAddon, platformOf } from '../scripts/build-target.mjs'
import { expectedFields } from '../scripts/stage-packages.mjs'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const TARGETS = pkg.napi.targets

test("each target's platform name is the one the generated loader requires", () => {
  const loader = readFileSync(join(ROOT, 'index.js'), 'utf8')
  for (const target of TARGETS) {
    const platform = platformOf(target)
    assert.ok(loader.includes(`require('./${pkg.napi.binaryName}.${platform}.node')`), `index.js does not load ${platform} (${target})`)
    assert.ok(loader.includes(`require('${pkg.name}-${platform}')`), `index.js does not load the package ${pkg.name}-${platform}`)
  }
})

test('napi create-npm-dirs makes a package per target with the os, cpu and libc the checks expect', (t) => {
  // (create-npm-dirs only writes inside the project: target/, which git ignores)
  mkdirSync(join(ROOT, 'target'), { recursive: true })
  const dir = mkdtempSync(join(ROOT, 'target', 'test-npm-dirs-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/@napi-rs/cli/dist/cli.js'), 'create-npm-dirs', '--npm-dir', dir], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
  assert.deepEqual(readdirSync(dir).sort(), TARGETS.map(platformOf).sort())
  for (const target of TARGETS) {
    const made = JSON.parse(readFileSync(join(dir, platformOf(target), 'package.json'), 'utf8'))
    const expected = expectedFields(target)
    assert.deepEqual({ os: made.os, cpu: made.cpu, libc: made.libc }, { libc: undefined, ...expected }, target)
  }
})

test('Linux targets build through zig, glibc ones at the floor; macOS and Windows natively', () => {
  assert.deepEqual(buildPlan('x86_64-unknown-linux-gnu'), { zig: true, napiTarget: `x86_64-unknown-linux-gnu.${GLIBC_FLOOR}`, args: ['-x'] })
  assert.deepEqual(buildPlan('aarch64-unknown-linux-musl'), { zig: true, napiTarget: 'aarch64-unknown-linux-musl', args: ['-x'] })
  assert.deepEqual(buildPlan('aarch64-apple-darwin'), { zig: false, napiTarget: 'aarch64-apple-darwin', args: [] })
  assert.deepEqual(buildPlan('x86_64-pc-windows-msvc'), { zig: false, napiTarget: 'x86_64-pc-windows-msvc', args: [] })
  assert.throws(() => buildPlan('riscv64gc-unknown-linux-gnu'), /unknown target "riscv64gc-unknown-linux-gnu"/)
})

test('the addon check accepts the Linux addon built here, and rejects it as another target', (t) => {
  const addon = readdirSync(ROOT).find((f) => /^ld-release\.linux-(x64|arm64)-(gnu|musl)\.node$/.test(f))
  if (process.platform !== 'linux' || !addon) return t.skip('no Linux addon here')
  if (spawnSync('readelf', ['--version']).status !== 0) return t.skip('readelf (binutils) is not installed')
  const [, cpu, abi] = /linux-(x64|arm64)-(gnu|musl)/.exec(addon)
  const arch = cpu === 'x64' ? 'x86_64' : 'aarch64'
  const target = `${arch}-unknown-linux-${abi}`
  const file = join(ROOT, addon)

  if (abi === 'musl') {
    assert.deepEqual(checkLinuxAddon(file, target), { machine: arch === 'x86_64' ? 'Advanced Micro Devices X86-64' : 'AArch64', glibc: null, libc: 'libc.so' })
  } else {
    // A development build (`napi build`) may need a newer glibc than the floor: then the
    // check says so; the release build passes.
    try {
      const found = checkLinuxAddon(file, target)
      assert.equal(found.libc, 'libc.so.6')
      assert.ok(found.glibc && found.glibc.split('.').map(Number)[1] <= Number(GLIBC_FLOOR.split('.')[1]), found.glibc)
    } catch (error) {
      assert.match(error.message, new RegExp(`needs GLIBC_2\\.\\d+, above the floor ${GLIBC_FLOOR.replace('.', '\\.')}`))
    }
  }
  const otherArch = arch === 'x86_64' ? 'aarch64' : 'x86_64'
  assert.throws(() => checkLinuxAddon(file, `${otherArch}-unknown-linux-${abi}`), /ELF machine ".+", expected ".+" for /)
  const otherAbi = abi === 'gnu' ? 'musl' : 'gnu'
  assert.throws(() => checkLinuxAddon(file, `${arch}-unknown-linux-${otherAbi}`), abi === 'gnu' ? /a musl addon needs GLIBC_/ : /expected glibc's libc\.so\.6/)
  // Not an addon: a shared object without the Node-API entry point.
  const libc = spawnSync('sh', ['-c', `ldd ${process.execPath} | sed -n 's/.*=> \\(\\/[^ ]*libc\\.so[^ ]*\\).*/\\1/p'`], { encoding: 'utf8' }).stdout.trim().split('\n')[0]
  if (libc) assert.throws(() => checkLinuxAddon(libc, target), /napi_register_module_v1/)
})
