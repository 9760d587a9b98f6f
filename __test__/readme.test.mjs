// The README's examples as users run them: every JavaScript and TypeScript block is a
// whole module, labelled with its module system. Each one runs against a fresh fake
// LaunchDarkly holding `sampleReleases()` (what `ld-release fake` serves; LD_ACCESS_TOKEN
// and LD_BASE_URI point at it) and must exit 0; then all of them run again, in README
// order, against one fake, as a reader trying them one after another would. TypeScript
// blocks are type-checked first. A block marked `<!-- no-run -->` on the line before it
// (one that needs a real account) is only parsed and type-checked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ENV_VARS, startFakeLaunchDarkly } from './helpers.mjs'

const { sampleReleases } = createRequire(import.meta.url)('../testing/index.js')

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ts = createRequire(import.meta.url)('typescript')
const NO_RUN = '<!-- no-run -->'

/** The module system of each fence label; `js` is ESM unless it calls `require(`. */
const KINDS = { mjs: 'esm', cjs: 'cjs', js: null, javascript: null, ts: 'ts', typescript: 'ts', mts: 'ts' }
const EXTENSIONS = { esm: 'mjs', cjs: 'cjs', ts: 'mts' }

/** Every fenced JavaScript or TypeScript block of `markdown`, with its line and label. */
function codeBlocks(markdown) {
  const lines = markdown.split('\n')
  const found = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\S*)\s*$/.exec(lines[i])
    if (!fence) continue
    let end = i + 1
    while (end < lines.length && lines[end] !== '```') end++
    const lang = fence[1]
    if (lang in KINDS) {
      const code = lines.slice(i + 1, end).join('\n') + '\n'
      const kind = KINDS[lang] ?? (/\brequire\(/.test(code) ? 'cjs' : 'esm')
      found.push({ lang, kind, code, line: i + 1, run: lines[i - 1]?.trim() !== NO_RUN })
    }
    i = end
  }
  return found
}

const blocks = codeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
mkdirSync(join(ROOT, 'target'), { recursive: true })
// Inside the package, so `ld-release` and `ld-release/testing` resolve to this checkout.
const dir = mkdtempSync(join(ROOT, 'target', 'readme-'))
for (const block of blocks) {
  block.file = join(dir, `line-${block.line}.${EXTENSIONS[block.kind]}`)
  writeFileSync(block.file, block.code)
}
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

const describe = (block) => `README.md:${block.line} (${block.lang})`

test('the README has examples, each labelled with its module system', () => {
  assert.ok(blocks.length >= 10, `found ${blocks.length} blocks`)
  const unlabelled = blocks.filter((b) => !['mjs', 'cjs', 'ts'].includes(b.lang))
  assert.deepEqual(unlabelled.map(describe), [], 'label blocks mjs, cjs or ts')
  for (const block of blocks.filter((b) => b.kind === 'esm')) assert.doesNotMatch(block.code, /\brequire\(/, `${describe(block)}: an ES module calls require`)
  for (const block of blocks.filter((b) => b.kind === 'cjs')) assert.doesNotMatch(block.code, /^\s*(import|export)\s/m, `${describe(block)}: CommonJS uses import`)
})

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
const slug = (heading) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

test("every link to a section of the README leads to one, the Install section's included", () => {
  const markdown = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const anchors = new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])))
  const links = [...markdown.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1])
  assert.deepEqual(links.filter((l) => !anchors.has(l)), [], 'links to no heading')
  // The Install section says how to get the package before `npm install ld-release` works.
  const install = markdown.split(/^## /m).find((section) => section.startsWith('Install\n'))
  for (const target of ['building-from-source', 'trying-the-package-before-it-is-published']) assert.ok(install.includes(`](#${target})`), target)
  assert.ok(install.indexOf('Not on npm yet') < install.indexOf('npm install ld-release'))
})

test('every JavaScript block parses as its own module', async () => {
  for (const block of blocks.filter((b) => b.kind !== 'ts')) {
    await promisify(execFile)(process.execPath, ['--check', block.file]).catch((e) => assert.fail(`${describe(block)} does not parse:\n${e.stderr}`))
  }
})

/** The `tsconfig.json` the README says its TypeScript examples assume (the json block after `<!-- tsconfig -->`). */
function readmeTsconfig(markdown) {
  const lines = markdown.split('\n')
  const at = lines.findIndex((line, i) => line.trim() === '<!-- tsconfig -->' && lines[i + 1] === '```json')
  assert.ok(at >= 0, 'the README names its tsconfig in a json block after <!-- tsconfig -->')
  const end = lines.indexOf('```', at + 2)
  return JSON.parse(lines.slice(at + 2, end).join('\n'))
}

/**
 * The TypeScript packages to compile the examples with: the project's (a dev dependency)
 * and, when `LD_RELEASE_TYPESCRIPT` names one, another (`.ci/run` and the workflow's test
 * jobs install the one `npm install typescript` gives today, outside the project, and name
 * it here).
 */
function typescripts() {
  const packages = [join(ROOT, 'node_modules', 'typescript')]
  const other = process.env.LD_RELEASE_TYPESCRIPT
  if (other) packages.push(other)
  return packages.map((path) => ({ path, version: JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).version }))
}

test("every TypeScript block type-checks as its own module, with exactly the README's tsconfig", async (t) => {
  const files = blocks.filter((b) => b.kind === 'ts').map((b) => b.file)
  assert.ok(files.length > 0)
  const config = readmeTsconfig(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  assert.equal(config.compilerOptions.strict, true)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...config, files }))
  const versions = typescripts()
  if (versions.length === 1) t.diagnostic('only the project TypeScript: set LD_RELEASE_TYPESCRIPT to check another (.ci/run does)')
  for (const { path, version } of versions) {
    const tsc = join(path, 'bin', 'tsc')
    await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--noEmit']).catch((e) => assert.fail(`tsc ${version}:\n${e.stdout}${e.stderr}`))
    t.diagnostic(`type-checked with TypeScript ${version}`)
  }
})

/** Runs `file` with the environment pointing at `fake`; resolves to { code, stdout, stderr }. */
async function run(file, fake) {
  const env = { ...process.env }
  for (const name of ENV_VARS) delete env[name]
  Object.assign(env, { LD_ACCESS_TOKEN: fake.apiKey, LD_BASE_URI: fake.url })
  const child = spawn(process.execPath, [file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const [code, signal] = await once(child, 'close')
  clearTimeout(killer)
  return { code, signal, stdout, stderr }
}

test('the sh block that starts `ld-release fake` in the background runs as written, and its kill stops the fake', { skip: process.platform === 'win32' && 'a POSIX shell' }, async (t) => {
  const markdown = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = /```sh\n(eval "\$\(npx ld-release fake --detach\)"[^]*?)```/.exec(markdown)?.[1]
  assert.ok(block, 'the README shows eval "$(npx ld-release fake --detach)"')
  assert.match(block, /^kill "\$LD_FAKE_PID"/m)
  const env = { ...process.env }
  for (const name of ENV_VARS) delete env[name]
  // As written, in the clone (where `npx ld-release` is this checkout's command), with `set -e`.
  const child = spawn('sh', ['-ec', `${block}\necho "pid=$LD_FAKE_PID"`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const [code] = await once(child, 'close')
  clearTimeout(killer)
  const pid = Number(/^pid=(\d+)$/m.exec(stdout)?.[1])
  t.after(() => {
    try {
      if (pid) process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  assert.equal(code, 0, stderr)
  assert.match(stdout, /^Standard rollout \(standard-rollout\) · version 1\n/, 'status drew new-checkout')
  assert.match(stdout, /^PUT http:\/\/127\.0\.0\.1:\d+\/api\/v2\/projects\/web\/flags\/progressive-checkout\/release\/phases\/\S+$/m, 'the dry run printed the PUT')
  // The kill stopped it.
  for (const deadline = Date.now() + 10_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    try {
      process.kill(pid, 0)
    } catch {
      break
    }
    assert.ok(Date.now() < deadline, `the fake (process ${pid}) still runs`)
  }
})

/** The file to run for `block` (a TypeScript block transpiled), and its code. */
function runnable(block) {
  if (block.kind !== 'ts') return { file: block.file, code: block.code }
  const code = ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
  const file = block.file.replace(/\.mts$/, '.run.mjs')
  writeFileSync(file, code)
  return { file, code }
}

/** Runs `block` against `fake`: it must exit 0, and reach the fake if it calls the library. */
async function runBlock(block, fake) {
  const { file, code } = runnable(block)
  const before = fake.requests.length
  const r = await run(file, fake)
  assert.equal(r.code, 0, `${describe(block)} exited ${r.code ?? r.signal}:\n${r.stderr}`)
  // An example loading the library (and not starting a fake of its own) reaches this one.
  const callsLibrary = /from 'ld-release'|require\('ld-release'\)/.test(code) && !code.includes('ld-release/testing')
  if (callsLibrary) assert.ok(fake.requests.length > before, `${describe(block)} sent nothing`)
}

for (const block of blocks.filter((b) => b.run)) {
  test(`${describe(block)} runs against a fresh fake LaunchDarkly and exits 0`, async (t) => {
    const fake = await startFakeLaunchDarkly({ releases: sampleReleases() })
    t.after(() => fake.close())
    await runBlock(block, fake)
  })
}

test('every block runs in README order against one fake LaunchDarkly, each exiting 0', async (t) => {
  const fake = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => fake.close())
  const runs = blocks.filter((b) => b.run)
  assert.ok(runs.length >= 10)
  for (const block of runs) await runBlock(block, fake)
  // What the examples changed is still there at the end: no example dropped a release
  // that a later one needed.
  for (const { projectKey, flagKey } of sampleReleases()) assert.ok(fake.getRelease(projectKey, flagKey), `${projectKey}/${flagKey} was deleted`)
})

// The shell examples of "Releasing with guarded rollouts", in order, as a CI step runs
// them: `sh -e`, `ld-release` on the PATH, against one fake whose clock runs 6000 times
// real time (a 10-minute step takes a tenth of a second).
test('the sh blocks of "Releasing with guarded rollouts" run in order against the fake and exit 0', { skip: process.platform === 'win32' && 'a POSIX shell' }, async (t) => {
  const markdown = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = markdown.split('\n## Releasing with guarded rollouts\n')[1]?.split('\n## ')[0]
  assert.ok(section, 'the README has the section')
  const scripts = [...section.matchAll(/```sh\n([^]*?)```/g)].map((m) => m[1])
  assert.ok(scripts.length >= 3, `found ${scripts.length} sh blocks`)
  const fake = await startFakeLaunchDarkly({ clock: { speed: 6000 } })
  t.after(() => fake.close())
  const bin = mkdtempSync(join(ROOT, 'target', 'readme-bin-'))
  t.after(() => rmSync(bin, { recursive: true, force: true }))
  writeFileSync(join(bin, 'ld-release'), `#!/bin/sh\nexec '${process.execPath}' '${join(ROOT, 'bin', 'ld-release.js')}' "$@"\n`, { mode: 0o755 })
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, LD_ACCESS_TOKEN: fake.apiKey, LD_BASE_URI: fake.url }
  for (const name of ['LAUNCHDARKLY_ACCESS_TOKEN', 'LAUNCHDARKLY_API_HOST', 'LD_PROJECT']) delete env[name]
  for (const script of scripts) {
    const child = spawn('sh', ['-ec', script], { cwd: bin, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const [code] = await once(child, 'close')
    clearTimeout(killer)
    assert.equal(code, 0, `${script}\n${out}`)
  }
  const started = fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/releases'))
  assert.equal(started.length, 2, 'the dry run sent no start; the two starts were sent once each')
  assert.ok(fake.requests.some((r) => r.method === 'PUT' && r.path.endsWith('/stop')), 'the stop was sent')
})
