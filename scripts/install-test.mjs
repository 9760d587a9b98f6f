#!/usr/bin/env node
// Installs ld-release as users do, into fresh projects outside this checkout, then
// requires, imports and calls it against the fake LaunchDarkly:
// 1. from the two packed tarballs, the root package and the platform package, as the
//    README says to try it before it is published;
// 2. the root package as published (with the exact-version optionalDependencies
//    publishing adds), without its platform package: the loader's clear message;
// 3. from this folder (npm links it).
// The packed root package must carry no install-time script, and npm must warn of none.
// Nothing is fetched: npm runs with --offline, and the fake listens on 127.0.0.1.
import { execFileSync, spawnSync } from 'node:child_process'
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

/** Lifecycle scripts npm runs as it installs a package (`prepare` for tarballs, folders and git). */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare']

const work = mkdtempSync(join(tmpdir(), 'ld-release-install-'))
const run = (cmd, args, cwd, options = {}) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options })
const npm = (args, cwd) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd)

/** `npm install --offline …` into a new project `name`; fails on a warning about install scripts or engines. */
function install(name, args) {
  const app = join(work, name)
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  const r = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=warn', ...args], { cwd: app, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm install ${args.join(' ')} failed:\n${r.stderr}`)
  const warnings = r.stderr.split('\n').filter((line) => /install-scripts|install script|EBADENGINE/i.test(line))
  if (warnings.length) throw new Error(`npm install ${args.join(' ')} warned:\n${warnings.join('\n')}`)
  return app
}

/** Fails if the package.json in `tarball` has a script npm would run on install. */
function checkNoInstallScripts(tarball) {
  const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], work))
  const found = INSTALL_SCRIPTS.filter((name) => manifest.scripts?.[name] !== undefined)
  if (found.length) throw new Error(`${tarball} carries install-time scripts: ${found.join(', ')}`)
}

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
      // The release and its pipeline's kind are read first; the one write is the PATCH.
      assert.deepEqual(fake.requests.filter((r) => r.method !== 'GET').map((r) => r.method), ['PATCH'])
      const error = await ld.getRelease('web', 'missing', { apiKey: fake.apiKey, baseUrl: fake.url }).catch((e) => e)
      assert.equal(esm.isLaunchDarklyError(error), true)
      console.log('installed package completed phase 0 of', release.name)
    } finally {
      await fake.close()
    }
  })().catch((e) => { console.error(e); process.exit(1) })
`

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

  // The root package as `npm pack` makes it, running its pack scripts (as publishing does).
  const rootTgz = join(tarballs, npm(['pack', '--pack-destination', tarballs], root).trim().split('\n').pop())
  checkNoInstallScripts(rootTgz)
  checkNoInstallScripts(platformTgz)
  const packedFiles = run('tar', ['-tzf', rootTgz], work)
  if (packedFiles.includes('.node\n')) throw new Error('the root package must not carry a .node file')

  // 1. Both tarballs: require, import and call.
  console.log(run(process.execPath, ['-e', script], install('app', [rootTgz, platformTgz])).trim())

  // 2. As published, with the exact-version optionalDependencies publishing adds
  // (`napi pre-publish`), and without the platform package: the loader's own message.
  const stage = join(work, 'stage')
  mkdirSync(stage)
  run('tar', ['-xzf', rootTgz], stage)
  const staged = join(stage, 'package')
  const stagedPkg = JSON.parse(readFileSync(join(staged, 'package.json'), 'utf8'))
  stagedPkg.optionalDependencies = { [platformPkg.name]: pkg.version }
  writeFileSync(join(staged, 'package.json'), JSON.stringify(stagedPkg, null, 2))
  const publishedTgz = join(stage, npm(['pack', '--pack-destination', stage], staged).trim().split('\n').pop())
  checkNoInstallScripts(publishedTgz)
  const bare = install('bare', ['--omit=optional', publishedTgz])
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

  // 3. From this folder, with the addon built beside index.js.
  console.log(run(process.execPath, ['-e', script], install('linked', [root])).trim(), '(installed from the folder)')
  console.log('install test: 3 passed, 0 failed')
} finally {
  rmSync(work, { recursive: true, force: true })
}
