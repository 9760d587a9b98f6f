#!/usr/bin/env node
// Installs ld-release as users do, from packed tarballs into a fresh project outside this
// checkout, then requires, imports and calls it against the fake LaunchDarkly. Also checks
// that, without the platform package, the loader fails with its clear message.
// Nothing is fetched: npm runs with --offline, and the fake listens on 127.0.0.1.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const platform = 'linux-x64-gnu'
const binary = `${pkg.napi.binaryName}.${platform}.node`
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`install test: skipped on ${process.platform}-${process.arch} (it packs the ${platform} package)`)
  process.exit(0)
}

const work = mkdtempSync(join(tmpdir(), 'ld-release-install-'))
const run = (cmd, args, cwd, options = {}) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options })
const npm = (args, cwd) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd)

try {
  // The platform package, as `napi create-npm-dirs` lays it out, with the built addon in it.
  // (create-npm-dirs only writes inside the project: use target/, which git ignores)
  const npmDir = join(root, 'target', 'install-test-npm')
  rmSync(npmDir, { recursive: true, force: true })
  run(process.execPath, [join(root, 'node_modules/@napi-rs/cli/dist/cli.js'), 'create-npm-dirs', '--npm-dir', npmDir], root)
  cpSync(join(root, binary), join(npmDir, platform, binary))
  const platformPkg = JSON.parse(readFileSync(join(npmDir, platform, 'package.json'), 'utf8'))
  for (const field of ['os', 'cpu', 'libc']) {
    if (!platformPkg[field]) throw new Error(`the ${platform} package has no "${field}" field`)
  }
  const tarballs = join(work, 'tarballs')
  mkdirSync(tarballs)
  const platformTgz = join(tarballs, npm(['pack', '--pack-destination', tarballs], join(npmDir, platform)).trim().split('\n').pop())

  // The root package, with the exact-version optionalDependencies publishing adds.
  const stage = join(work, 'stage')
  mkdirSync(stage)
  const rootTgz = npm(['pack', '--ignore-scripts', '--pack-destination', stage], root).trim().split('\n').pop()
  run('tar', ['-xzf', rootTgz], stage)
  const staged = join(stage, 'package')
  const stagedPkg = JSON.parse(readFileSync(join(staged, 'package.json'), 'utf8'))
  delete stagedPkg.scripts
  stagedPkg.optionalDependencies = { [platformPkg.name]: pkg.version }
  writeFileSync(join(staged, 'package.json'), JSON.stringify(stagedPkg, null, 2))
  const packedFiles = run('tar', ['-tzf', join(stage, rootTgz)], stage)
  if (packedFiles.includes('.node\n')) throw new Error('the root package must not carry a .node file')
  const mainTgz = join(tarballs, npm(['pack', '--pack-destination', tarballs], staged).trim().split('\n').pop())

  const script = `
    const assert = require('node:assert/strict')
    const ld = require('ld-release')
    const { startFakeLaunchDarkly, sampleRelease } = require('ld-release/testing')
    ;(async () => {
      const esm = await import('ld-release')
      const esmTesting = await import('ld-release/testing')
      assert.equal(esm.completePhase, ld.completePhase)
      assert.equal(typeof esmTesting.startFakeLaunchDarkly, 'function')
      const fake = await startFakeLaunchDarkly({ releases: [{ projectKey: 'web', flagKey: 'new-checkout', release: sampleRelease() }] })
      try {
        const release = await esm.completePhase('web', 'new-checkout', 0, { apiKey: fake.apiKey, baseUrl: fake.url })
        assert.equal(release.phases[0].complete, true)
        assert.equal(fake.requests.length, 1)
        console.log('installed package completed phase 0 of', release.name)
      } finally {
        await fake.close()
      }
    })().catch((e) => { console.error(e); process.exit(1) })
  `

  // 1. With the platform package: require, import and call.
  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  npm(['install', '--offline', mainTgz, platformTgz], app)
  console.log(run(process.execPath, ['-e', script], app).trim())

  // 2. Without it: the loader's own message.
  const bare = join(work, 'bare')
  mkdirSync(bare)
  writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', version: '1.0.0', private: true }))
  npm(['install', '--offline', '--omit=optional', mainTgz], bare)
  let failed = false
  try {
    run(process.execPath, ['-e', "require('ld-release')"], bare)
  } catch (e) {
    failed = true
    if (!/Cannot find native binding/.test(e.stderr)) throw new Error(`unexpected loader failure:\n${e.stderr}`, { cause: e })
    // The message is the generated loader's; its cause chain names the missing package.
    if (!e.stderr.includes(`Cannot find module '${platformPkg.name}'`)) throw new Error(`the error does not name ${platformPkg.name}:\n${e.stderr}`, { cause: e })
    console.log(`without the platform package: "Cannot find native binding", caused by "Cannot find module '${platformPkg.name}'" (as expected)`)
  }
  if (!failed) throw new Error('require succeeded without the platform package')
  console.log('install test: 2 passed, 0 failed')
} finally {
  rmSync(work, { recursive: true, force: true })
}
