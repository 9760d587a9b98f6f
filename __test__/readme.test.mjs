// The README's examples as users run them: every JavaScript and TypeScript block is a
// whole module, labelled with its module system. Each one runs against a fake
// LaunchDarkly (LD_ACCESS_TOKEN and LD_BASE_URI point at it) and must exit 0; TypeScript
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
import { ENV_VARS, sampleRelease, startFakeLaunchDarkly } from './helpers.mjs'

const { sampleNewPipelineRelease } = createRequire(import.meta.url)('../testing/index.js')

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ts = createRequire(import.meta.url)('typescript')
const NO_RUN = '<!-- no-run -->'

/** The module system of each fence label; `js` is ESM unless it calls `require(`. */
const KINDS = { mjs: 'esm', cjs: 'cjs', js: null, javascript: null, ts: 'ts', typescript: 'ts', mts: 'ts' }
const EXTENSIONS = { esm: 'mjs', cjs: 'cjs', ts: 'mts' }

/** The flags the examples use, each holding a sample release in the fake. */
const FLAGS = ['new-checkout', 'dark-mode', 'search-v2']
/** A flag whose release is in a new (non-legacy) release pipeline. */
const NEW_PIPELINE_FLAG = 'progressive-search'

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

test('every JavaScript block parses as its own module', async () => {
  for (const block of blocks.filter((b) => b.kind !== 'ts')) {
    await promisify(execFile)(process.execPath, ['--check', block.file]).catch((e) => assert.fail(`${describe(block)} does not parse:\n${e.stderr}`))
  }
})

test('every TypeScript block type-checks as its own module', async () => {
  const files = blocks.filter((b) => b.kind === 'ts').map((b) => b.file)
  assert.ok(files.length > 0)
  const config = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: config.compilerOptions, files }))
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).catch((e) => assert.fail(`tsc:\n${e.stdout}${e.stderr}`))
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

for (const block of blocks.filter((b) => b.run)) {
  test(`${describe(block)} runs against the fake LaunchDarkly and exits 0`, async (t) => {
    const releases = FLAGS.map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() }))
    releases.push({ projectKey: 'web', flagKey: NEW_PIPELINE_FLAG, release: sampleNewPipelineRelease() })
    const fake = await startFakeLaunchDarkly({ releases })
    t.after(() => fake.close())
    let file = block.file
    let code = block.code
    if (block.kind === 'ts') {
      code = ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
      file = block.file.replace(/\.mts$/, '.run.mjs')
      writeFileSync(file, code)
    }
    const r = await run(file, fake)
    assert.equal(r.code, 0, `${describe(block)} exited ${r.code ?? r.signal}:\n${r.stderr}`)
    // An example loading the library (and not starting a fake of its own) reaches this one.
    const callsLibrary = /from 'ld-release'|require\('ld-release'\)/.test(code) && !code.includes('ld-release/testing')
    if (callsLibrary) assert.ok(fake.requests.length > 0, `${describe(block)} sent nothing`)
  })
}

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
