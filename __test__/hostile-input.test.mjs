// Hostile and careless callers: values that cannot be JSON, code that throws while its
// arguments are read, a polluted prototype, silent undefineds and huge sparse arrays.
// Each is refused with ERR_LD_INVALID_ARGUMENT (nothing sent), never crashes the process
// and never escapes synchronously from a function that returns a promise.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import vm from 'node:vm'

import { TOKEN, assertLdError, client, expectLdError, fake, ld, sampleRelease, setEnv, tinyServer } from './helpers.mjs'

const PATH = '/api/v2/flags/web/checkout/release'

/**
 * Calls `fn`, asserts it returned a promise (it threw nothing synchronously) that
 * rejects with ERR_LD_INVALID_ARGUMENT, and returns the error.
 */
async function refused(fn, message) {
  let promise
  assert.doesNotThrow(() => {
    promise = fn()
  }, 'a promise-returning function threw synchronously')
  assert.ok(promise instanceof Promise, 'returned a promise')
  const error = await promise.then(
    (value) => assert.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err) => err,
  )
  assertLdError(error, { code: 'ERR_LD_INVALID_ARGUMENT', attempts: 0 })
  if (message) assert.match(error.message, message)
  return error
}

const cyclic = () => {
  const o = { a: 1 }
  o.self = o
  return o
}
const nested = (depth) => {
  let v = []
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

test('cycles and deep nesting are refused, naming the argument and the path, for every JSON argument', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const replace = (value) => [{ op: 'replace', path: '/name', value }]
  const cases = [
    [() => c.patchRelease('web', 'checkout', replace(cyclic())), /^patch\[0\]\.value\.self refers back to patch\[0\]\.value \(a cycle\)/],
    [() => c.patchRelease('web', 'checkout', replace(nested(10_000))), /^patch is nested deeper than 64 levels/],
    [() => c.patchRelease('web', 'checkout', replace({ list: [1, 2, cyclic()] })), /^patch\[0\]\.value\.list\[2\]\.self refers back to patch\[0\]\.value\.list\[2\] \(a cycle\)/],
    [() => c.createRelease('web', 'checkout', Object.assign(cyclic(), { releasePipelineKey: 'p' })), /^input\.self refers back to input \(a cycle\)/],
    [() => c.createRelease('web', 'checkout', { releasePipelineKey: 'p', deep: nested(10_000) }), /^input is nested deeper than 64 levels/],
    [() => c.updatePhaseStatus('web', 'checkout', 'phase-id', { audiences: [cyclic()] }), /^input\.audiences\[0\]\.self refers back to input\.audiences\[0\] \(a cycle\)/],
    [() => ld.updatePhaseStatus('web', 'checkout', 'phase-id', { audiences: nested(10_000) }, { apiKey: TOKEN, baseUrl: server.url }), /^input is nested deeper/],
    [() => ld.patchRelease('web', 'checkout', replace(cyclic()), { apiKey: TOKEN, baseUrl: server.url }), /a cycle/],
  ]
  for (const [call, message] of cases) await refused(call, message)
  assert.throws(() => ld.previewRequest('PATCH', 'web', 'checkout', replace(cyclic())), (err) => {
    assertLdError(err, { code: 'ERR_LD_INVALID_ARGUMENT' })
    return /a cycle/.test(err.message)
  })
  // 64 levels in all (the patch array, its operation, 62 arrays) fit; one more does not.
  await c.patchRelease('web', 'checkout', [{ op: 'test', path: '/nothing-checks-this', value: nested(61) }]).catch(() => {})
  assert.equal(server.requests.length, 1, 'a value at the depth limit is sent')
  await refused(() => c.patchRelease('web', 'checkout', [{ op: 'test', path: '/x', value: nested(62) }]), /nested deeper than 64/)
  assert.equal(server.requests.length, 1, 'nothing else was sent')
})

test('a value that doubles at every level is refused after 100000 values, not expanded', { timeout: 20_000 }, async (t) => {
  const server = await fake(t)
  let v = {}
  for (let i = 0; i < 60; i++) v = { a: v, b: v } // 2^60 paths, no cycle, 60 levels
  await refused(() => client(server).patchRelease('web', 'checkout', [{ op: 'add', path: '/x', value: v }]), /^patch holds more than 100000 values/)
  const wide = { list: new Array(200_000).fill(0) }
  await refused(() => client(server).createRelease('web', 'checkout', { releasePipelineKey: 'p', ...wide }), /^input holds more than 100000 values \(input\.list has 200000 elements\)/)
  assert.equal(server.requests.length, 0)
  // Exactly 100000 values fit: the patch array, its operation, `op`, `path` and `value`
  // are 5, and 99995 members or elements make the rest; one more is refused.
  const preview = (value) => ld.previewRequest('patchRelease', 'web', 'checkout', [{ op: 'add', path: '/x', value }], { apiKey: TOKEN, baseUrl: server.url })
  const members = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]))
  assert.equal(JSON.parse(preview(members(99_995)).body)[0].value.k99994, 0)
  assert.throws(() => preview(members(99_996)), { message: /^patch holds more than 100000 values \(patch\[0\]\.value has 99996 members\)/ })
  assert.equal(JSON.parse(preview(new Array(99_995).fill(1)).body)[0].value.length, 99_995)
  assert.throws(() => preview(new Array(99_996).fill(1)), { message: /^patch holds more than 100000 values \(patch\[0\]\.value has 99996 elements\)/ })
})

test('values JSON cannot hold are refused by name; undefined members are left out', async (t) => {
  const server = await fake(t)
  const c = client(server)
  class Audience {
    constructor() {
      this.id = 'a'
    }
  }
  const sparse = [1, , 3] // eslint-disable-line no-sparse-arrays
  const cases = [
    [undefined, 'patch[0].value is required'],
    [[1, undefined], 'patch[0].value[1] is undefined'],
    [sparse, 'patch[0].value[1] is a hole in a sparse array'],
    [{ f() {} }, 'patch[0].value.f is a function'],
    [{ s: Symbol('s') }, 'patch[0].value.s is a symbol'],
    [10n, 'patch[0].value is a BigInt'],
    [{ n: NaN }, 'patch[0].value.n is NaN'],
    [[Infinity], 'patch[0].value[0] is Infinity'],
    [{ 'odd key': -Infinity }, 'patch[0].value["odd key"] is -Infinity'],
    // A key is written as a member when JavaScript would take it so: letters, digits,
    // `_` and `$`, not starting with a digit.
    [{ $ref: NaN }, 'patch[0].value.$ref is NaN'],
    [{ _x$1: NaN }, 'patch[0].value._x$1 is NaN'],
    [{ a_b: NaN }, 'patch[0].value.a_b is NaN'],
    [{ '1a': NaN }, 'patch[0].value["1a"] is NaN'],
    [{ 'a-b': NaN }, 'patch[0].value["a-b"] is NaN'],
    [new Date(0), 'patch[0].value is a Date'],
    [new Map([['a', 1]]), 'patch[0].value is not a plain object'],
    [new Set([1]), 'patch[0].value is not a plain object'],
    [new Audience(), 'patch[0].value is not a plain object'],
    [Object(1), 'patch[0].value is not a plain object'],
    [new Uint8Array(2), 'patch[0].value is not a plain object'],
  ]
  for (const [value, message] of cases) {
    const error = await refused(() => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/name', value }]))
    assert.ok(error.message.startsWith(message), `${message}: ${error.message}`)
  }
  // A path past 160 characters is named by its first and last 70, around an ellipsis.
  let deep = NaN
  for (let i = 9; i >= 0; i--) deep = { [`seg${i}${'_'.repeat(20)}`]: deep }
  const long = await refused(() => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/name', value: deep }]))
  const path = Array.from({ length: 10 }, (_, i) => `.seg${i}${'_'.repeat(20)}`).join('')
  const full = `patch[0].value${path}`
  assert.equal(long.message, `${full.slice(0, 70)}…${full.slice(-70)} is NaN, which JSON cannot hold`)
  // Exactly 160 characters are named whole; one more, and the path is shortened.
  const keys = ['a'.repeat(35), 'b'.repeat(35), 'c'.repeat(35), 'd'.repeat(37)]
  const nested = (names) => names.reduceRight((inner, key) => ({ [key]: inner }), NaN)
  const exact = `patch[0].value.${keys.join('.')}`
  assert.equal(exact.length, 160)
  const whole = await refused(() => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/name', value: nested(keys) }]))
  assert.equal(whole.message, `${exact} is NaN, which JSON cannot hold`)
  const over = `${exact}e`
  const cut = await refused(() => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/name', value: nested([...keys.slice(0, 3), `${keys[3]}e`]) }]))
  assert.equal(cut.message, `${over.slice(0, 70)}…${over.slice(-70)} is NaN, which JSON cannot hold`)
  assert.equal(server.requests.length, 0)

  // Plain objects of another realm, objects without a prototype, integers as integers,
  // undefined members left out (as JSON.stringify does); symbol keys and inherited
  // members are not part of JSON.
  const bare = Object.assign(Object.create(null), { k: 'v' })
  const other = vm.runInNewContext('({ fromAnotherRealm: [1, 2] })')
  const value = { bare, other, n: 3, x: -0, f: 1.5, gone: undefined, [Symbol('s')]: 1, nested: { u: undefined, ok: null } }
  await c.patchRelease('web', 'checkout', [{ op: 'test', path: '/name', value }]).catch(() => {})
  assert.equal(server.requests.length, 1)
  assert.equal(
    server.requests[0].body,
    '[{"op":"test","path":"/name","value":{"bare":{"k":"v"},"f":1.5,"n":3,"nested":{"ok":null},"other":{"fromAnotherRealm":[1,2]},"x":0}}]',
  )
})

test('code that throws while arguments are read rejects with that exception as cause, never synchronously', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const boom = new Error('boom')
  const getter = (key) => ({ get [key]() { throw boom } }) // prettier-ignore
  const trap = (name, target = {}) => new Proxy(target, { [name]() { throw boom } }) // prettier-ignore
  const module = { apiKey: TOKEN, baseUrl: server.url }
  const calls = [
    // options: a getter, and each Proxy trap reading them runs
    () => c.getRelease('web', 'checkout', getter('timeoutMs')),
    () => c.getRelease('web', 'checkout', trap('ownKeys')),
    () => c.getRelease('web', 'checkout', trap('getOwnPropertyDescriptor', { signal: null })),
    () => c.getRelease('web', 'checkout', trap('get', { timeoutMs: 1 })),
    () => c.completePhase('web', 'checkout', 0, { signal: getter('aborted') }),
    () => ld.getRelease('web', 'checkout', { ...module, get maxRetries() { throw boom } }), // prettier-ignore
    () => c.completePhases([], getter('onProgress')),
    () => c.deleteRelease('web', 'checkout', trap('ownKeys')),
    // phase selectors, patch operations and inputs
    () => c.completePhase('web', 'checkout', getter('name')),
    () => c.reopenPhase('web', 'checkout', trap('ownKeys')),
    () => c.patchRelease('web', 'checkout', [getter('op')]),
    () => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/name', value: { inner: trap('ownKeys') } }]),
    () => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/name', value: Object.defineProperty([], 0, { get() { throw boom }, enumerable: true }) }]), // prettier-ignore
    () => c.createRelease('web', 'checkout', trap('get', { releasePipelineKey: 'p' })),
    () => ld.updatePhaseStatus('web', 'checkout', 'id', { audiences: [getter('audienceId')] }, module),
  ]
  for (const [i, call] of calls.entries()) {
    const error = await refused(call)
    assert.equal(error.cause, boom, `call ${i}: ${error.message}`)
    assert.match(error.message, /could not be read: the caller's code threw/)
  }
  // What is thrown need not be an Error.
  const error = await refused(() => c.getRelease('web', 'checkout', { get timeoutMs() { throw 'a string' } })) // prettier-ignore
  assert.equal(error.cause, 'a string')
  // The constructor and the synchronous functions throw, with the same cause.
  for (const call of [
    () => new ld.ReleaseClient(getter('apiKey')),
    () => ld.previewRequest('PATCH', 'web', 'checkout', [getter('path')]),
  ]) {
    assert.throws(call, (err) => {
      assertLdError(err, { code: 'ERR_LD_INVALID_ARGUMENT' })
      return err.cause === boom
    })
  }
  assert.equal(server.requests.length, 0)
})

test('in completePhases an item whose reading throws fails alone; the others are sent', async (t) => {
  const server = await fake(t, {
    releases: ['a', 'b'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() })),
  })
  const boom = new Error('item boom')
  const results = await client(server).completePhases([
    { projectKey: 'web', flagKey: 'a', phase: 0 },
    { projectKey: 'web', get flagKey() { throw boom }, phase: 0 }, // prettier-ignore
    new Proxy({}, { ownKeys() { throw boom } }), // prettier-ignore
    { projectKey: 'web', flagKey: 'b', phase: 1 },
  ])
  assert.deepEqual(results.map((r) => r.ok), [true, false, false, true])
  for (const r of [results[1], results[2]]) {
    assertLdError(r.error, { code: 'ERR_LD_INVALID_ARGUMENT', attempts: 0 })
    assert.equal(r.error.cause, boom)
  }
  assert.match(results[1].error.message, /^items\[1\]\.flagKey could not be read/)
  assert.match(results[2].error.message, /^items\[2\] could not be read/)
  // The two good items: each its release read and its PATCH, one read of the pipeline.
  assert.equal(server.requests.length, 5)
  assert.equal(server.requests.filter((r) => r.method === 'PATCH').length, 2)
})

test('an onProgress that throws is called no more, is reported once as a warning, and the run resolves with every result', async (t) => {
  const keys = ['a', 'b', 'c', 'd', 'e']
  const server = await fake(t, { releases: keys.map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() })) })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const thrown = new Error('progress bar broke')
  let calls = 0
  const results = await client(server).completePhases(
    keys.map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 })),
    {
      concurrency: 1,
      onProgress: () => {
        calls++
        throw thrown
      },
    },
  )
  assert.deepEqual(results.map((r) => r.ok), [true, true, true, true, true])
  for (const flagKey of keys) assert.equal(server.getRelease('web', flagKey).phases[0].complete, true)
  assert.equal(server.requests.filter((r) => r.method === 'PATCH').length, 5)
  if (warnings.length === 0) await once(process, 'warning')
  await new Promise((resolve) => setTimeout(resolve, 50)) // any later progress call would land by now
  assert.equal(calls, 1, 'not called again after it threw')
  const ours = warnings.filter((w) => w.name === 'LaunchDarklyWarning')
  assert.equal(ours.length, 1)
  assert.equal(ours[0].cause, thrown)
  assert.match(ours[0].message, /^options\.onProgress threw; it is not called again/)
})

test('inherited properties are never read: a polluted prototype redirects nothing and changes no option', async (t) => {
  const server = await fake(t, { releases: [{ projectKey: 'web', flagKey: 'a', release: sampleRelease() }] })
  const hostile = await tinyServer(t, () => ({ status: 200, body: sampleRelease() }))
  setEnv(t, { LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: server.url })
  const pollution = {
    baseUrl: hostile.url,
    apiKey: 'api-hostile',
    maxRetries: 'not a number',
    timeoutMs: -1,
    signal: 'not a signal',
    concurrency: 0,
    onProgress: 'not a function',
    complete: false,
    name: 'Production',
    unknownOption: 1,
    releasePipelineKey: 'hostile-pipeline',
    injected: 'member',
  }
  // Arguments are read when the function is called: the prototypes are polluted only
  // around each call, so the test's own servers never see them.
  const polluted = (call) => {
    for (const [key, value] of Object.entries(pollution)) Object.prototype[key] = value
    Array.prototype[1] = { projectKey: 'web', flagKey: 'a', phase: 2 }
    try {
      return call()
    } finally {
      for (const key of Object.keys(pollution)) delete Object.prototype[key]
      delete Array.prototype[1]
    }
  }
  // The default instance comes from the environment, not from Object.prototype.baseUrl.
  const preview = polluted(() => ld.previewRequest('GET', 'web', 'a', null, {}))
  assert.equal(preview.url, `${server.url}/api/v2/flags/web/a/release`)
  assert.match(preview.headers.Authorization, /91d7$/)
  // An inherited `complete: false` does not turn completing into reopening; inherited
  // option names are not refused as unknown; a hole is not read from Array.prototype.
  const results = await polluted(() => ld.completePhases([{ projectKey: 'web', flagKey: 'a', phase: 0 }, ,], {})) // eslint-disable-line no-sparse-arrays
  assert.equal(results.length, 2)
  assert.equal(results[0].ok, true, results[0].error?.message)
  assert.equal(results[0].release.phases[0].complete, true)
  assert.match(results[1].error.message, /^items\[1\] is a hole in a sparse array/)
  const c = polluted(() => new ld.ReleaseClient({}))
  await polluted(() => c.getRelease('web', 'a', {}))
  await polluted(() => ld.completePhase('web', 'a', 1, {}))
  // A phase selector with its own id only: the inherited `name` is not seen.
  const id = server.getRelease('web', 'a').phases[2]._id
  await polluted(() => c.completePhase('web', 'a', { id }))
  // Inherited members are not sent, nor taken for a missing required field.
  await polluted(() => ld.patchRelease('web', 'a', [{ op: 'test', path: '/name', value: {} }])).catch(() => {})
  await refused(() => polluted(() => c.createRelease('web', 'a', {})), /^input: missing field `releasePipelineKey`/)

  assert.equal(hostile.requests.length, 0, 'nothing went to the polluted baseUrl')
  // Six calls: each phase change reads the release first, and the first on each client
  // its pipeline too (3 + 1 + 2 + 3 + 1).
  assert.equal(server.requests.length, 10)
  for (const request of server.requests) assert.equal(request.headers.authorization, TOKEN)
  assert.equal(server.requests.at(-1).body, '[{"op":"test","path":"/name","value":{}}]')
  assert.deepEqual(server.getRelease('web', 'a').phases.map((p) => p.complete), [true, true, true])
})

test('a patch value left undefined is refused, never sent as null; an explicit null is sent', async (t) => {
  const server = await fake(t)
  const c = client(server)
  for (const op of ['replace', 'add', 'test']) {
    const error = await refused(() => c.patchRelease('web', 'checkout', [{ op, path: '/phases/0/complete', value: undefined }]))
    assert.equal(error.message, `patch[0].value is required for op "${op}" and must not be undefined (null is sent as null)`)
  }
  await refused(() => ld.patchRelease('web', 'checkout', [{ op: 'replace', path: '/x', value: undefined }], { apiKey: TOKEN, baseUrl: server.url }), /^patch\[0\]\.value is required/)
  assert.throws(() => ld.previewRequest('PATCH', 'web', 'checkout', [{ op: 'replace', path: '/x', value: undefined }]), /must not be undefined/)
  assert.equal(server.requests.length, 0)
  await c.patchRelease('web', 'checkout', [{ op: 'test', path: '/_releaseVariationId', value: null }]).catch(() => {})
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].path, PATH)
  assert.equal(server.requests[0].body, '[{"op":"test","path":"/_releaseVariationId","value":null}]')
})

test('items is bounded before it is read: a sparse array of a million is refused at once; holes are cheap', async (t) => {
  const server = await fake(t)
  const huge = []
  huge.length = 1_000_000
  huge[999_999] = { projectKey: 'web', flagKey: 'checkout', phase: 0 }
  await refused(() => client(server).completePhases(huge), /^items has 1000000 elements; a run takes at most 10000 items/)
  await refused(() => ld.completePhases(new Array(10_001), { apiKey: TOKEN, baseUrl: server.url }), /at most 10000 items/)
  assert.equal(server.requests.length, 0)
  // At the limit: every hole is its own error and the one item is sent.
  const sparse = []
  sparse.length = 10_000
  sparse[5_000] = { projectKey: 'web', flagKey: 'checkout', phase: 0 }
  const results = await client(server).completePhases(sparse)
  assert.equal(results.length, 10_000)
  assert.equal(results.filter((r) => r.ok).length, 1)
  assert.equal(results[5_000].ok, true)
  assert.match(results[0].error.message, /^items\[0\] is a hole in a sparse array/)
  assert.deepEqual(server.requests.map((r) => r.method), ["GET", "GET", "PATCH"])
})

test('an argument of the wrong type is refused with its type named, and nothing is sent', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const cases = [
    [undefined, 'undefined'],
    [null, 'null'],
    [true, 'a boolean'],
    [1, 'a number'],
    [Symbol('s'), 'a symbol'],
    [{}, 'an object'],
    [() => 1, 'a function'],
    [1n, 'a BigInt'],
  ]
  for (const [value, named] of cases) {
    const error = await c.getRelease(value, 'checkout').then(() => assert.fail('resolved'), (e) => e)
    assert.equal(error.code, 'ERR_LD_INVALID_ARGUMENT')
    assert.equal(error.message, `projectKey must be a string, got ${named}`)
  }
  const error = await c.getRelease('web', 'checkout', { timeoutMs: '5' }).then(() => assert.fail('resolved'), (e) => e)
  assert.equal(error.message, 'options.timeoutMs must be a number, got a string')
  assert.equal(server.requests.length, 0)
})

test('an unknown option is named by at most 40 characters: exactly 40 whole, more cut with an ellipsis', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const refusal = (key) => c.getRelease('web', 'checkout', { [key]: 1 }).then(() => assert.fail('resolved'), (e) => e.message)
  assert.equal(await refusal('k'.repeat(40)), `options.${'k'.repeat(40)} is not an option; the options here are timeoutMs, maxRetries, signal`)
  assert.equal(await refusal('k'.repeat(41)), `options.${'k'.repeat(40)}… is not an option; the options here are timeoutMs, maxRetries, signal`)
  assert.equal(server.requests.length, 0)
})

test('did-you-mean for options stops at its distance: two edits suggest, three do not', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const refusal = (key) => c.getRelease('web', 'checkout', { [key]: 1 }).then(() => assert.fail('resolved'), (e) => e.message)
  // Two characters too many in front of maxRetries, then three.
  assert.equal(await refusal('xymaxRetries'), 'options.xymaxRetries is not an option (did you mean maxRetries?); the options here are timeoutMs, maxRetries, signal')
  assert.equal(await refusal('xyzmaxRetries'), 'options.xyzmaxRetries is not an option; the options here are timeoutMs, maxRetries, signal')
  assert.equal(server.requests.length, 0)
})

test('a run of the most items, every one of which throws while read, gives each error its own cause', async (t) => {
  const server = await fake(t)
  const thrown = Array.from({ length: 10_000 }, (_, i) => new Error(`item ${i}`))
  const items = thrown.map((boom) => ({ projectKey: 'web', flagKey: 'checkout', get phase() { throw boom } })) // prettier-ignore
  const results = await client(server).completePhases(items)
  assert.equal(results.length, 10_000)
  const wrong = results.findIndex((r, i) => r.ok || r.error.cause !== thrown[i])
  assert.equal(wrong, -1, `item ${wrong}: ${results[wrong]?.error?.message} (cause ${results[wrong]?.error?.cause})`)
  assert.equal(server.requests.length, 0)
})

test('an array is no phase, whatever properties it has', async (t) => {
  const server = await fake(t)
  const c = client(server)
  for (const phase of [[], Object.assign([], { name: 'Testing' }), Object.assign([], { id: '6650a1b2c3d4e5f607182930' })]) {
    await expectLdError(() => c.completePhase('web', 'checkout', phase), {
      code: 'ERR_LD_INVALID_ARGUMENT',
      message: 'phase must be an integer from 0 to 4294967295, { name: string } or { id: string }, got an object',
    })
  }
  assert.equal(server.requests.length, 0)
})

test('a long token held while a server echoes a long run of it: the call settles, every field masked', async (t) => {
  // Every error is masked against every token the process holds. Masking was once cubic
  // in the lengths of the token and the text, and held the main thread without end.
  const long = 'x'.repeat(300_000)
  const held = new ld.ReleaseClient({ apiKey: long, baseUrl: 'http://127.0.0.1:9' })
  const echo = `no flag ${'x'.repeat(600_000)} here`
  const server = await tinyServer(t, () => ({ status: 400, body: { code: 'invalid_request', message: echo } }))
  const caller = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 })
  const error = await caller.getRelease('web', 'checkout').then(assert.fail, (e) => e)
  assertLdError(error, { code: 'ERR_LD_BAD_REQUEST', status: 400 })
  assert.match(error.message, /"no flag \*{4}/)
  for (const field of ['message', 'apiCode', 'apiMessage', 'bodyExcerpt']) {
    assert.doesNotMatch(String(error[field] ?? ''), /x{9}/, field)
  }
  assert.ok(held instanceof ld.ReleaseClient, 'the long token is still held')
})
