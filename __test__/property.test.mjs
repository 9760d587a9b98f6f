// Property-based: arbitrary JavaScript values (cycles, deep nesting, getters and Proxy
// traps that throw, sparse arrays, BigInt, Symbols, functions, huge strings, Maps, Dates,
// boxed values, ...) given to every exported function. Whatever comes in: a function
// that returns a promise never throws synchronously, the process never crashes, every
// failure is an error with a stable code, and invalid input sends nothing.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import fc from 'fast-check'

import { TOKEN, assertNoSecret, fake, ld, sampleRelease, setEnv } from './helpers.mjs'

const RUNS = 100
const CODE = /^(ERR_LD_[A-Z_]+|ABORT_ERR)$/
/** Failures raised before anything is sent. */
const BEFORE_SENDING = new Set(['ERR_LD_INVALID_ARGUMENT', 'ERR_LD_NO_API_KEY', 'ERR_LD_INSECURE_URL'])

// Generated values are templates, printable by fast-check when a case fails; the real
// (possibly hostile) values are made from them afresh for each call.
const ABSENT = { [fc.toStringMethod]: () => 'absent' }
class Hostile {
  constructor(kind) {
    this.kind = kind
  }
  [fc.toStringMethod]() {
    return `hostile(${this.kind})`
  }
}
class Obj {
  constructor(entries) {
    this.entries = entries
  }
  [fc.toStringMethod]() {
    return `obj(${fc.stringify(this.entries)})`
  }
}
class Arr {
  constructor(elements) {
    this.elements = elements
  }
  [fc.toStringMethod]() {
    return `arr(${fc.stringify(this.elements)})`
  }
}

const thrower = () => {
  throw new Error('thrown by the caller')
}
const NAMES = [
  'apiKey', 'baseUrl', 'timeoutMs', 'maxRetries', 'userAgent', 'methodOverride', 'signal', 'concurrency',
  'onProgress', 'projectKey', 'flagKey', 'phase', 'complete', 'op', 'path', 'value', 'from', 'name', 'id',
  'releasePipelineKey', 'releaseVariationId', 'status', 'audiences', 'audienceId',
]
const nested = (depth, wrap) => {
  let v = {}
  for (let i = 0; i < depth; i++) v = wrap(v)
  return v
}
const MAKERS = {
  cycle: () => {
    const o = { a: 1 }
    o.self = o
    return o
  },
  cyclicArray: () => {
    const a = [1]
    a.push(a)
    return a
  },
  deepArrays: () => nested(10_000, (v) => [v]),
  deepObjects: () => nested(10_000, (v) => ({ v })),
  doubling: () => nested(50, (v) => ({ a: v, b: v })),
  gettersThrow: () => Object.defineProperties({}, Object.fromEntries(NAMES.map((n) => [n, { get: thrower, enumerable: true }]))),
  elementGetterThrows: () => Object.defineProperty([], 0, { get: thrower, enumerable: true }),
  proxyTrapsThrow: () =>
    new Proxy({}, { get: thrower, has: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower, getPrototypeOf: thrower }),
  proxyArrayTrapsThrow: () => new Proxy([], { get: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower }),
  proxyOfItem: () => new Proxy({ projectKey: 'web', flagKey: 'checkout', phase: 0 }, {}),
  revokedProxy: () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  },
  hugeSparse: () => {
    const a = []
    a.length = 1_000_000
    a[999_999] = { projectKey: 'web', flagKey: 'checkout', phase: 0 }
    return a
  },
  smallSparse: () => [, { projectKey: 'web', flagKey: 'checkout', phase: 0 }], // eslint-disable-line no-sparse-arrays
  bigString: () => 'x'.repeat(1 << 20),
  symbol: () => Symbol('s'),
  function: () => () => 1,
  throwingFunction: () => thrower,
  bigint: () => 2n ** 70n,
  nan: () => NaN,
  infinity: () => -Infinity,
  negativeZero: () => -0,
  date: () => new Date(0),
  map: () => new Map([['projectKey', 'web']]),
  set: () => new Set([1]),
  boxed: () => Object('web'),
  typedArray: () => new Uint8Array(3),
  nullPrototype: () => Object.assign(Object.create(null), { projectKey: 'web', op: 'remove', path: '/x' }),
  classInstance: () => new (class Item { projectKey = 'web' })(),
  coercionThrows: () => ({ toString: thrower, valueOf: thrower, toJSON: thrower, [Symbol.toPrimitive]: thrower }),
  abortedSignal: () => AbortSignal.abort(new Error('already aborted')),
  liveSignal: () => new AbortController().signal,
  signalGetterThrows: () => Object.defineProperty({ addEventListener() {} }, 'aborted', { get: thrower, enumerable: true }),
  signalLookalike: () => ({ aborted: 'no', addEventListener: 1 }),
  undefined: () => undefined,
  null: () => null,
}

function make(template) {
  if (template instanceof Hostile) return MAKERS[template.kind]()
  if (template instanceof Obj) {
    const out = {}
    for (const [key, value] of Object.entries(template.entries)) if (value !== ABSENT) out[key] = make(value)
    return out
  }
  if (template instanceof Arr) return template.elements.map(make)
  return template
}

// Arbitraries: each argument is a plausible value most of the time and anything else
// otherwise, down to each member of an object and each element of an array.
const hostile = fc.constantFrom(...Object.keys(MAKERS)).map((kind) => new Hostile(kind))
const junk = fc.anything({
  maxDepth: 3,
  maxKeys: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withTypedArray: true,
  withSparseArray: true,
})
const anything = fc.oneof(hostile, junk)
const maybe = (valid) => fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: anything })
const optional = (arb) => fc.option(arb, { nil: ABSENT, freq: 3 })
/**
 * An object of `fields` (each left out now and then, except those in `required`), at
 * times with a member no call takes, or anything else in its place.
 */
const obj = (fields, { required = [], extra = true, orAnything = maybe } = {}) =>
  orAnything(
    fc
      .record({
        ...Object.fromEntries(Object.entries(fields).map(([k, arb]) => [k, required.includes(k) ? arb : optional(arb)])),
        bogusOption: extra ? fc.oneof({ weight: 9, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: anything }) : fc.constant(ABSENT),
      })
      .map((entries) => new Obj(entries)),
  )
const arr = (element, maxLength = 4) => maybe(fc.array(element, { maxLength }).map((elements) => new Arr(elements)))

const projectKey = maybe(fc.constantFrom('web', 'other', 'a/b?c'))
const flagKey = maybe(fc.constantFrom('checkout', 'missing'))
const phaseIndex = maybe(fc.integer({ min: -1, max: 4 }))
const phaseSelector = fc.oneof(
  phaseIndex,
  obj({ name: maybe(fc.constantFrom('Staging', 'QA')) }, { required: ['name'], extra: false }),
  obj({ id: maybe(fc.constant('6650a1b2c3d4e5f607182931')) }, { required: ['id'], extra: false }),
)
const phaseId = maybe(fc.constant('6650a1b2c3d4e5f607182931'))
const patchOp = obj(
  {
    op: maybe(fc.constantFrom('replace', 'add', 'test', 'remove', 'move', 'copy')),
    path: maybe(fc.constantFrom('/phases/0/complete', '/name', 'no-slash')),
    value: maybe(fc.jsonValue({ maxDepth: 2 })),
    from: maybe(fc.constant('/phases/1/complete')),
  },
  { required: ['op', 'path'], extra: false },
)
const patch = arr(patchOp, 3)
const createInput = obj(
  { releasePipelineKey: maybe(fc.constant('standard-rollout')), releaseVariationId: maybe(fc.string()) },
  { required: ['releasePipelineKey'] },
)
const updateInput = obj({
  status: maybe(fc.constantFrom('Started', 'Paused')),
  audiences: arr(obj({ audienceId: maybe(fc.string()), notifyMemberIds: arr(maybe(fc.string())) }, { extra: false }), 2),
})
const items = arr(
  obj({ projectKey, flagKey, phase: phaseIndex, complete: maybe(fc.boolean()) }, { required: ['projectKey', 'flagKey', 'phase'], extra: false }),
  5,
)
const signal = fc.constantFrom('liveSignal', 'abortedSignal', 'signalGetterThrows', 'signalLookalike').map((kind) => new Hostile(kind))
const requestFields = {
  timeoutMs: maybe(fc.constantFrom(1000, 5000, -1, 0, 1.5, 2 ** 53)),
  // Retries stay at 0 or 1 (or invalid), so that no case waits for long backoffs.
  maxRetries: maybe(fc.constantFrom(0, 1, -1, 1.5, 21)),
  signal: maybe(signal),
}
function clientFields(url) {
  return {
    apiKey: maybe(fc.constantFrom(TOKEN, '', 'has space', 'api-other-token')),
    baseUrl: maybe(fc.constantFrom(url, 'http://example.com', 'not a url', 'https://user:secret@127.0.0.1:99999')),
    userAgent: maybe(fc.constantFrom('bot/1.0', 'bad\nagent')),
    methodOverride: maybe(fc.boolean()),
  }
}
const bulkFields = { concurrency: maybe(fc.constantFrom(1, 4, 0, 300)), onProgress: maybe(fc.constantFrom(new Hostile('function'), new Hostile('throwingFunction'))) }

/** Settles `call()`: what it returned, threw synchronously, resolved to or rejected with. */
async function settle(call) {
  let returned
  try {
    returned = call()
  } catch (error) {
    return { syncThrow: true, error }
  }
  if (!(returned instanceof Promise)) return { returned }
  try {
    return { promise: true, value: await returned }
  } catch (error) {
    return { promise: true, rejected: true, error }
  }
}

function assertStableError(error) {
  assert.ok(error instanceof Error, `not an Error: ${String(error)}`)
  assert.match(String(error.code), CODE, `unstable code ${String(error.code)}: ${error.message}`)
  assert.equal(error.name, error.code === 'ABORT_ERR' ? 'AbortError' : 'LaunchDarklyError')
  assert.equal(typeof error.message, 'string')
  assertNoSecret(error)
}

test('every exported function, given anything: no synchronous throw from a promise, a stable code, nothing sent for invalid input', { timeout: 120_000 }, async (t) => {
  const server = await fake(t)
  // Module-level calls without a baseUrl or token of their own use these.
  setEnv(t, { LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: server.url })
  const url = server.url
  const client = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, maxRetries: 0, timeoutMs: 5000 })
  const requestOptions = fc.option(obj(requestFields), { nil: undefined })
  // Module-level calls always say how many retries (0, or an invalid value), so that no
  // case waits for the default three backoffs.
  const present = anything.filter((v) => v != null && !(v instanceof Hostile && ['undefined', 'null'].includes(v.kind)))
  const moduleOptions = (more = {}) =>
    obj(
      { ...clientFields(url), ...requestFields, ...more, maxRetries: maybe(fc.constantFrom(0, -1)) },
      { required: ['maxRetries'], orAnything: (valid) => fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: present }) },
    )

  // [name, argument arbitraries, the call, whether it returns a promise, whether its
  // phase argument may make it read the release before it validates a phase name]
  const exports = [
    ['ReleaseClient#completePhase', [projectKey, flagKey, phaseSelector, requestOptions], (...a) => client.completePhase(...a), true, 2],
    ['ReleaseClient#reopenPhase', [projectKey, flagKey, phaseSelector, requestOptions], (...a) => client.reopenPhase(...a), true, 2],
    ['ReleaseClient#patchRelease', [projectKey, flagKey, patch, requestOptions], (...a) => client.patchRelease(...a), true],
    ['ReleaseClient#getRelease', [projectKey, flagKey, requestOptions], (...a) => client.getRelease(...a), true],
    ['ReleaseClient#createRelease', [projectKey, flagKey, createInput, requestOptions], (...a) => client.createRelease(...a), true],
    ['ReleaseClient#deleteRelease', [projectKey, flagKey, requestOptions], (...a) => client.deleteRelease(...a), true],
    ['ReleaseClient#updatePhaseStatus', [projectKey, flagKey, phaseId, updateInput, requestOptions], (...a) => client.updatePhaseStatus(...a), true],
    ['ReleaseClient#completePhases', [items, fc.option(obj({ ...requestFields, ...bulkFields }), { nil: undefined })], (...a) => client.completePhases(...a), true],
    ['completePhase', [projectKey, flagKey, phaseSelector, moduleOptions()], ld.completePhase, true, 2],
    ['reopenPhase', [projectKey, flagKey, phaseSelector, moduleOptions()], ld.reopenPhase, true, 2],
    ['patchRelease', [projectKey, flagKey, patch, moduleOptions()], ld.patchRelease, true],
    ['getRelease', [projectKey, flagKey, moduleOptions()], ld.getRelease, true],
    ['createRelease', [projectKey, flagKey, createInput, moduleOptions()], ld.createRelease, true],
    ['deleteRelease', [projectKey, flagKey, moduleOptions()], ld.deleteRelease, true],
    ['updatePhaseStatus', [projectKey, flagKey, phaseId, updateInput, moduleOptions()], ld.updatePhaseStatus, true],
    ['completePhases', [items, moduleOptions(bulkFields)], ld.completePhases, true],
    ['new ReleaseClient', [fc.option(obj({ ...clientFields(url), ...requestFields }), { nil: undefined })], (...a) => new ld.ReleaseClient(...a), false],
    ['phasePatch', [phaseIndex, maybe(fc.boolean())], ld.phasePatch, false],
    ['previewRequest', [maybe(fc.constantFrom('GET', 'PATCH', 'DELETE')), projectKey, flagKey, fc.oneof(fc.constant(null), patch), fc.option(obj(clientFields(url)), { nil: undefined })], ld.previewRequest, false],
  ]

  for (const [name, args, call, returnsPromise, selectorAt] of exports) {
    await t.test(name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.tuple(...args), async (templates) => {
          server.setRelease('web', 'checkout', sampleRelease())
          server.clearRequests()
          const values = templates.map(make)
          const outcome = await settle(() => call(...values))
          if (returnsPromise) {
            assert.ok(!outcome.syncThrow, `threw synchronously: ${outcome.error?.message ?? String(outcome.error)}`)
            assert.ok(outcome.promise, 'returned a promise')
          } else {
            assert.ok(!outcome.promise, 'returned no promise')
          }
          const sent = server.requests
          if (outcome.error !== undefined || outcome.rejected) {
            assertStableError(outcome.error)
            if (BEFORE_SENDING.has(outcome.error.code)) {
              // A phase change reads the release first and finds its phase there (an index
              // the release does not have, an unknown name): that read is the only request
              // an invalid argument may cost.
              const lookup = selectorAt !== undefined && values[selectorAt] !== null && ['object', 'number'].includes(typeof values[selectorAt])
              const allowed = lookup ? sent.every((r) => r.method === 'GET') && sent.length <= 1 : sent.length === 0
              assert.ok(allowed, `${outcome.error.code} after sending ${sent.map((r) => r.method).join(', ')}`)
            }
          } else if (Array.isArray(outcome.value) && name.endsWith('completePhases')) {
            // One result per item; an invalid item sent nothing. (A request the fake
            // could not parse, such as one with a 1 MiB key, is not recorded.)
            for (const r of outcome.value) {
              if (r.ok) assert.equal(typeof r.release, 'object')
              else assertStableError(r.error)
            }
            // At most one write per valid item (a refused PATCH is followed by reads of
            // the release, to tell a new pipeline from a bad request), and at least one per
            // distinct item that succeeded (an item that repeats an earlier one is written
            // once and shares its result).
            const valid = outcome.value.filter((r) => r.ok || !BEFORE_SENDING.has(r.error.code)).length
            const keyOf = (item) => {
              try {
                return JSON.stringify([item.projectKey, item.flagKey, item.phase, item.complete === false])
              } catch {
                return Symbol('an item that cannot be told apart')
              }
            }
            const succeeded = new Set(outcome.value.flatMap((r, i) => (r.ok ? [keyOf(values[0][i])] : []))).size
            const writes = sent.filter((r) => r.method !== 'GET').length
            assert.ok(writes <= valid && writes >= succeeded, `${writes} writes sent for ${valid} valid items`)
          }
        }),
        { numRuns: RUNS, timeout: 20_000 },
      )
    })
  }
})
