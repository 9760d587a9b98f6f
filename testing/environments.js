'use strict'
// The fake's environment releases (beta), release policies (beta) and flags, as LaunchDarkly's
// spec v25 describes them: flags with variations and an on/off state per environment,
// releases whose phases and steps move on a clock the test controls (or on real time, sped
// up), starts validated as the service validates them, every stop resolution, paging with
// `_links` and `_snapshot`, and the release-policy CRUD and order. Required by index.js,
// which routes these paths here after its own auth and beta checks.

const { createHash, randomUUID } = require('node:crypto')

const TERMINAL = new Set(['completed', 'reverted'])
const HEALTH_CHECKS = ['flag_evaluations_any', 'flag_evaluations_with_context', 'metric_events_any', 'metric_events_with_context']
const RESOLUTIONS = [
  'roll_forward_all_phases',
  'roll_forward_current_phase_and_remove_pending_phases',
  'roll_back_all_phases_and_remove_pending_phases',
  'roll_back_current_phase_and_remove_pending_phases',
]
const CLEANUP = ['remove_rules_and_update_default_rule', 'leave_rules_in_place']
const ADVANCEMENT = ['manual', 'automatic']
const CLAUSE_OPS = ['in', 'endsWith', 'startsWith', 'matches', 'contains', 'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual', 'before', 'after', 'segmentMatch', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan']
const RELEASE_METHODS = ['guarded-release', 'immediate-release', 'progressive-release']
/** What each failing health check says (`failingChecks[].message`). */
const CHECK_MESSAGES = {
  flag_evaluations_any: () => 'The flag has not been evaluated recently.',
  flag_evaluations_with_context: (unit) => `The flag has not been evaluated recently for contexts of kind ${unit}.`,
  metric_events_any: (_unit, metric) => `Metric ${metric} has not received events recently.`,
  metric_events_with_context: (unit, metric) => `Metric ${metric} has not received events recently for contexts of kind ${unit}.`,
}
const FULL = 100000
const GUARDED_MAX = 50000
const DEFAULT_LIMIT = 25
const MAX_LIMIT = 100
const RETENTION_MS = 90 * 24 * 3600 * 1000
const MAX_STAGES = 10
const EPOCH = 1764300000000

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value)
const isInteger = (value) => Number.isSafeInteger(value)
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const KEY_RE = /^[A-Za-z0-9._-]+$/
/** A stable UUID from a name: the same sample data every run. */
const uuidOf = (name) => {
  const h = createHash('sha256').update(name).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}
/** A copy without the fake's own bookkeeping (keys starting with `$`). */
const view = (value) => JSON.parse(JSON.stringify(value, (k, v) => (k.startsWith('$') ? undefined : v)))
const kindClause = (unit) => ({ contextKind: unit, attribute: 'kind', op: 'in', values: [unit], negate: false })

/** The sample environments: key and name (the flag's `_environmentName`). */
const ENVIRONMENTS = [
  ['test', 'Test'],
  ['staging', 'Staging'],
  ['production', 'Production'],
]

/**
 * A flag as the fake stores it, from a short description: variations `[value, name?]`, the
 * environments where it is on, the variation served when on (fallthrough) and off.
 */
function sampleFlag({ key, name, kind, variations, on, fallthrough, off, rules = {}, tags = [] }) {
  const vars = variations.map(([value, varName], i) => ({ _id: uuidOf(`${key}/variation/${i}`), value, name: varName }))
  const environments = {}
  for (const [envKey] of ENVIRONMENTS) {
    environments[envKey] = { on: on.includes(envKey), fallthrough: { variation: fallthrough }, offVariation: off, rules: (rules[envKey] ?? []).map((r) => ({ ...r })) }
  }
  return { key, name, kind, description: '', tags, variations: vars, environments, creationDate: EPOCH, _version: 1 }
}

/** The sample project `web`: context kinds, environments, flags, metrics and policies. */
function sampleProject() {
  const betaRule = {
    // Stryker disable next-line StringLiteral: any name makes a UUID that is the same in every run
    _id: uuidOf('new-checkout/production/rule/beta-testers'),
    description: 'Beta testers',
    clauses: [kindClause('user'), { contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@example.com'], negate: false }],
    variation: 1,
    trackEvents: false,
  }
  return {
    contextKinds: [
      { key: 'user' },
      { key: 'organization' },
      { key: 'device' },
      { key: 'legacy-account', archived: true },
    ],
    environments: ENVIRONMENTS.map(([key, name]) => ({ key, name })),
    flags: [
      sampleFlag({
        key: 'new-checkout',
        name: 'New checkout',
        kind: 'boolean',
        variations: [[true, 'Enabled'], [false, 'Disabled']],
        on: ['test', 'staging', 'production'],
        fallthrough: 1,
        off: 1,
        rules: { production: [betaRule] },
        tags: ['checkout'],
      }),
      sampleFlag({
        key: 'checkout-layout',
        name: 'Checkout layout',
        kind: 'multivariate',
        variations: [['classic', 'Classic'], ['compact', 'Compact'], ['wide', 'Wide']],
        on: ['test', 'staging'],
        fallthrough: 0,
        off: 0,
        tags: ['checkout'],
      }),
      sampleFlag({
        key: 'progressive-checkout',
        name: 'Progressive checkout',
        kind: 'boolean',
        variations: [[true, 'Enabled'], [false, 'Disabled']],
        on: ['test', 'staging', 'production'],
        fallthrough: 1,
        off: 1,
      }),
    ],
    metrics: [
      { key: 'checkout-errors', name: 'Checkout errors', kind: 'custom', isNumeric: false, eventKey: 'checkout-error' },
      { key: 'checkout-latency', name: 'Checkout latency', kind: 'custom', isNumeric: true, eventKey: 'checkout-latency', unit: 'ms' },
    ],
    metricGroups: ['checkout-health'],
    policies: [
      {
        key: 'production-guarded',
        name: 'Guarded releases in production',
        scope: { environmentKeys: ['production'] },
        releaseMethod: 'guarded-release',
        guardedReleaseConfig: {
          rolloutContextKindKey: 'user',
          minSampleSize: 100,
          rollbackOnRegression: true,
          metricKeys: ['checkout-errors'],
          stages: [
            { allocation: 10000, durationMillis: 3600000 },
            { allocation: 50000, durationMillis: 3600000 },
          ],
        },
      },
      {
        key: 'default',
        name: 'Default release policy',
        scope: null,
        releaseMethod: 'progressive-release',
        progressiveReleaseConfig: {
          rolloutContextKindKey: 'user',
          stages: [
            { allocation: 25000, durationMillis: 3600000 },
            { allocation: 100000, durationMillis: 3600000 },
          ],
        },
      },
    ],
  }
}

/**
 * The environment-release, release-policy and flag routes, or null. `parts` are the
 * segments of a path under /api/v2 (index.js checks that prefix); `keys` decodes keys
 * as index.js does.
 */
function parseEnvironmentRoute(parts, keys) {
  // /api/v2/flags/{projectKey}/{flagKey}: the flag (not a beta endpoint)
  if (parts.length === 5 && parts[2] === 'flags') {
    const k = keys(parts[3], parts[4])
    return k && { group: 'environments', beta: false, name: 'flag', projectKey: k[0], flagKey: k[1], path: `/api/v2/flags/${k[0]}/${k[1]}` }
  }
  // /api/v2/projects/{p}/flags/{f}/environments/{e}/releases[/{id}[/stop]]
  if (parts.length <= 11 && parts[2] === 'projects' && parts[4] === 'flags' && parts[6] === 'environments' && parts[8] === 'releases') {
    const k = keys(parts[3], parts[5], parts[7], ...parts.slice(9, 10))
    if (!k) return null
    const base = `/api/v2/projects/${k[0]}/flags/${k[1]}/environments/${k[2]}/releases`
    const route = { group: 'environments', projectKey: k[0], flagKey: k[1], environmentKey: k[2] }
    if (parts.length === 9) return { ...route, name: 'environment-releases', path: base }
    if (parts.length === 10) return { ...route, name: 'environment-release', releaseId: k[3], path: `${base}/${k[3]}` }
    if (parts[10] === 'stop') return { ...route, name: 'environment-release-stop', releaseId: k[3], path: `${base}/${k[3]}/stop` }
    return null
  }
  // /api/v2/projects/{p}/release-policies[/{policyKey}|/order]
  if (parts.length <= 6 && parts[2] === 'projects' && parts[4] === 'release-policies') {
    const k = keys(parts[3], ...parts.slice(5, 6))
    if (!k) return null
    const base = `/api/v2/projects/${k[0]}/release-policies`
    if (parts.length === 5) return { group: 'environments', name: 'release-policies', projectKey: k[0], path: base }
    if (k[1] === 'order') return { group: 'environments', name: 'release-policies-order', projectKey: k[0], path: `${base}/order` }
    return { group: 'environments', name: 'release-policy', projectKey: k[0], policyKey: k[1], path: `${base}/${k[1]}` }
  }
  return null
}

/**
 * The state behind those routes and the controls a test drives it with. `send` and
 * `readJson` are index.js's. See index.d.ts (`FakeOptions`, `FakeLaunchDarkly`).
 */
function createEnvironments(options, { send, readJson }) {
  // The clock: fake time stands still unless advanced, or runs at `speed` times real time.
  const clockStart = options.clock?.start ?? Date.now()
  const speed = options.clock?.speed ?? 0
  if (!Number.isFinite(speed) || speed < 0) throw new TypeError('clock.speed must be a finite number >= 0')
  const realStart = Date.now()
  let offset = 0
  const now = () => Math.floor(clockStart + offset + (speed ? (Date.now() - realStart) * speed : 0))
  const pendingMs = options.releasePendingMs ?? 0

  const projects = new Map()
  const releases = new Map() // id -> release (with `$` bookkeeping)
  let sequence = 0
  // Creation times in nanoseconds, strictly increasing: what `_snapshot` compares with.
  let lastNs = 0n
  // Now (at `t`) in nanoseconds: `t`'s millisecond, or the latest creation if later.
  const nowNs = (t) => {
    const ns = BigInt(t) * 1000000n
    return ns > lastNs ? ns : lastNs
  }
  // A release gets at least 1 ns past its millisecond, so a snapshot taken in that same
  // millisecond before it (`nowNs`) leaves it out.
  const nextNs = (at) => (lastNs = nowNs(at) + 1n)
  const healthChecks = new Map() // JSON [p, f, e] ('*' for any) -> kinds
  const plansAvailable = options.releasePlans !== undefined
  setFailingChecks('options.failingHealthChecks', options.failingHealthChecks ?? [], {})

  /** Sets the health checks that fail where `where` says (keys left out: any). */
  function setFailingChecks(name, failing, where) {
    if (!Array.isArray(failing) || failing.some((k) => !HEALTH_CHECKS.includes(k))) throw new TypeError(`${name} must be an array of ${HEALTH_CHECKS.join(', ')}`)
    healthChecks.set(JSON.stringify([where.projectKey ?? '*', where.flagKey ?? '*', where.environmentKey ?? '*']), [...failing])
  }

  function projectOf(projectKey) {
    let project = projects.get(projectKey)
    if (!project) {
      const sample = sampleProject()
      project = {
        contextKinds: sample.contextKinds,
        environments: new Map(sample.environments.map((e) => [e.key, { ...e, approvalsRequired: false }])),
        flags: new Map(sample.flags.map((f) => [f.key, f])),
        metrics: new Map(sample.metrics.map((m) => [m.key, m])),
        metricGroups: new Set(sample.metricGroups),
        policies: new Map(),
        plans: new Map(),
      }
      for (const p of sample.policies) addPolicy(project, p)
      projects.set(projectKey, project)
    }
    return project
  }
  for (const { projectKey, flag } of options.flags ?? []) putFlag(projectKey, flag)
  for (const { projectKey, environmentKey } of options.approvalsRequired ?? []) setApprovals(projectKey, environmentKey, true)
  for (const { projectKey, environmentKey, plan } of options.releasePlans ?? []) projectOf(projectKey).plans.set(JSON.stringify([environmentKey, plan.key]), JSON.parse(JSON.stringify(plan)))

  function addPolicy(project, input) {
    const scoped = [...project.policies.values()].filter((p) => p.scope)
    const policy = {
      // Stryker disable next-line UpdateOperator: the count only makes the ids unique, as it does counting down
      _id: uuidOf(`policy/${input.key}/${sequence++}`),
      key: input.key,
      name: input.name,
      scope: input.scope ?? null,
      rank: input.scope ? scoped.length + 1 : 0,
      releaseMethod: input.releaseMethod,
      guardedReleaseConfig: input.guardedReleaseConfig ?? null,
      progressiveReleaseConfig: input.progressiveReleaseConfig ?? null,
    }
    project.policies.set(policy.key, policy)
    return policy
  }

  /** Adds or replaces a flag (variation ids made up where missing, every known environment filled in). */
  function putFlag(projectKey, input) {
    if (!isObject(input) || typeof input.key !== 'string' || !Array.isArray(input.variations) || input.variations.length < 2) {
      throw new TypeError('a flag needs a key and at least two variations')
    }
    for (const env of Object.values(input.environments ?? {})) {
      for (const rule of env.rules ?? []) {
        if (!isObject(rule) || (rule.clauses !== undefined && !(Array.isArray(rule.clauses) && rule.clauses.every(isObject)))) throw new TypeError('a rule of a flag must be an object whose clauses (if any) are an array of objects')
      }
    }
    const project = projectOf(projectKey)
    const variations = input.variations.map((v, i) => ({ _id: v._id ?? uuidOf(`${input.key}/variation/${i}`), value: v.value, ...(v.name !== undefined ? { name: v.name } : {}) }))
    const environments = {}
    for (const envKey of project.environments.keys()) {
      const given = input.environments?.[envKey] ?? {}
      environments[envKey] = {
        on: given.on ?? false,
        fallthrough: given.fallthrough ?? { variation: variations.length - 1 },
        offVariation: given.offVariation ?? variations.length - 1,
        rules: (given.rules ?? []).map((r) => ({ _id: r._id ?? randomUUID(), ...r, clauses: r.clauses ?? [] })),
      }
    }
    const flag = {
      key: input.key,
      name: input.name ?? input.key,
      kind: input.kind ?? (variations.length === 2 && variations.every((v) => typeof v.value === 'boolean') ? 'boolean' : 'multivariate'),
      description: input.description ?? '',
      tags: input.tags ?? [],
      variations,
      environments,
      creationDate: input.creationDate ?? EPOCH,
      _version: 1,
    }
    project.flags.set(flag.key, flag)
    return flag
  }

  function setApprovals(projectKey, environmentKey, required) {
    const env = projectOf(projectKey).environments.get(environmentKey)
    if (!env) throw new Error(`no environment ${environmentKey} in project ${projectKey}`)
    env.approvalsRequired = required
  }

  // ---- the release state machine -------------------------------------------------------

  const releaseOrThrow = (id) => {
    const release = releases.get(id)
    if (!release) throw new Error(`no environment release ${id}`)
    sync(release, now())
    return release
  }

  /** Moves a release on to time `t`: steps end, phases complete, the next phase starts. */
  function sync(release, t) {
    for (;;) {
      if (TERMINAL.has(release.status) || release.status === 'waiting') return
      if (release.status === 'pending') {
        if (t < release.$startAt) return
        beginPhase(release, 0, release.$startAt)
        continue
      }
      const phase = release.phases[release.currentPhaseIndex]
      if (t < release.$deadline) return
      const end = release.$deadline
      phase.steps[phase.currentStepIndex].endedAt = end
      if (phase.currentStepIndex < phase.steps.length - 1) {
        phase.currentStepIndex++
        const step = phase.steps[phase.currentStepIndex]
        step.startedAt = end
        release.$deadline = end + step.durationMillis
        continue
      }
      Object.assign(phase, { status: 'completed', statusReason: 'completed_automatic', endedAt: end })
      const next = phase.phaseIndex + 1
      if (next >= release.phases.length) finish(release, 'completed', 'completed_automatic', end)
      else if (release.advancementMode === 'automatic') beginPhase(release, next, end)
      else Object.assign(release, { status: 'waiting', statusReason: 'waiting_phase_ended', currentPhaseIndex: null, $next: next })
    }
  }

  function beginPhase(release, index, at) {
    const phase = release.phases[index]
    Object.assign(release, { status: 'in_progress', statusReason: null, currentPhaseIndex: index })
    release.startedAt ??= at
    Object.assign(phase, { status: 'in_progress', statusReason: null, startedAt: at, currentStepIndex: 0 })
    phase.steps[0].startedAt = at
    phase.metricStatuses = Object.fromEntries(release.metrics.map((m) => [m.metricKey, 'ok']))
    release.$deadline = at + phase.steps[0].durationMillis
    delete release.$next
  }

  /** Ends the release (its phases already ended or discarded): the cleanup, and the rules of discarded phases removed. */
  function finish(release, status, reason, at) {
    Object.assign(release, { status, statusReason: reason, currentPhaseIndex: null, endedAt: at })
    delete release.$deadline
    // Flags are never deleted, and every flag has every environment of its project.
    const flag = flagOf(release)
    const env = flag.environments[release.environmentKey]
    if (status === 'completed' && release.cleanupBehavior === 'remove_rules_and_update_default_rule') {
      env.rules = env.rules.filter((r) => r.$release !== release.id || r.$existing)
      env.fallthrough = { variation: flag.variations.findIndex((v) => v._id === release.targetVariationId) }
    }
    // The rules of discarded phases go (only a discarded phase has that reason).
    env.rules = env.rules.filter((r) => r.$release !== release.id || release.phases[r.$phase].statusReason !== 'reverted_discarded' || r.$existing)
  }

  /** Ends a phase that was running (or waiting): `status` at `at`, its step (which has not ended) ended. */
  function endRunning(phase, status, reason, at) {
    phase.steps[phase.currentStepIndex].endedAt = at
    Object.assign(phase, { status, statusReason: reason, endedAt: at })
  }

  const discard = (phase) => Object.assign(phase, { status: 'reverted', statusReason: 'reverted_discarded' })

  /** The stop endpoint's work. Returns an error message for a 400, or null. */
  function stop(release, resolution, at) {
    if (TERMINAL.has(release.status)) return null
    const current = release.currentPhaseIndex
    const currentOnly = resolution.includes('current_phase')
    if (currentOnly && current === null) return `${resolution} cannot be used while the release is between phases: use roll_forward_all_phases or roll_back_all_phases_and_remove_pending_phases`
    const forward = resolution.startsWith('roll_forward')
    for (const phase of release.phases) {
      const running = phase.status === 'in_progress' || phase.status === 'waiting'
      if (running) endRunning(phase, forward ? 'completed' : 'reverted', forward ? 'completed_manual' : 'reverted_manual', at)
      else if (phase.status === 'pending') {
        if (resolution === 'roll_forward_all_phases') Object.assign(phase, { status: 'completed', statusReason: 'completed_manual', startedAt: at, endedAt: at })
        else discard(phase)
      } else if (resolution === 'roll_back_all_phases_and_remove_pending_phases') {
        // A phase neither running nor pending has completed: none is reverted before the release ends.
        Object.assign(phase, { status: 'reverted', statusReason: 'reverted_manual', endedAt: at })
      }
    }
    finish(release, forward ? 'completed' : 'reverted', forward ? 'completed_manual' : 'reverted_manual', at)
    return null
  }

  function flagOf(release) {
    return projects.get(release.projectKey).flags.get(release.flagKey)
  }

  /** The release as the API answers it; `expand` adds metric definitions. */
  function render(release, expand = false) {
    const out = view(release)
    // Absent until a phase has started, and until the release ends.
    if (out.startedAt === null) delete out.startedAt
    if (out.endedAt === null) delete out.endedAt
    for (const phase of out.phases) {
      if (phase.currentStepIndex === null) delete phase.currentStepIndex
    }
    if (expand) {
      const project = projects.get(release.projectKey)
      out.metrics = out.metrics.map((m) => ({ ...m, definition: metricDefinition(release.projectKey, project.metrics.get(m.metricKey), m.metricVersionId) }))
    }
    return out
  }

  /** A metric's definition (the release's metrics are metrics of the project, which never loses one). */
  function metricDefinition(projectKey, metric, versionId) {
    return {
      _id: uuidOf(`metric/${projectKey}/${metric.key}`),
      _versionId: versionId,
      _version: 1,
      key: metric.key,
      name: metric.name,
      kind: metric.kind,
      description: metric.description ?? null,
      isNumeric: metric.isNumeric ?? null,
      eventKey: metric.eventKey ?? null,
      unit: metric.unit ?? null,
      analysisUnits: ['user'],
      tags: [],
      _creationDate: EPOCH,
      _links: { self: { href: `/api/v2/metrics/${projectKey}/${metric.key}`, type: 'application/json' } },
      dataSource: { key: 'launchdarkly', _name: 'LaunchDarkly' },
      archived: false,
    }
  }

  /** Whether the release is gone from the API: ended more than 90 days ago. */
  const expired = (release, t) => release.endedAt != null && t - release.endedAt > RETENTION_MS

  // ---- the flag as the API shows it ----------------------------------------------------

  function renderFlag(projectKey, flag, envFilter) {
    const t = now()
    // Its rules show the releases as they are now (the clock may run on its own).
    for (const r of releases.values()) sync(r, t)
    const environments = {}
    const project = projects.get(projectKey)
    for (const [envKey, env] of Object.entries(flag.environments)) {
      if (envFilter && !envFilter.includes(envKey)) continue
      const info = project.environments.get(envKey)
      environments[envKey] = {
        on: env.on,
        archived: false,
        salt: createHash('sha256').update(`${flag.key}/${envKey}`).digest('hex').slice(0, 32),
        sel: createHash('sha256').update(`${envKey}/${flag.key}`).digest('hex').slice(0, 32),
        lastModified: t,
        version: flag._version,
        targets: [],
        contextTargets: [],
        rules: env.rules.map((rule) => renderRule(rule)),
        fallthrough: env.fallthrough,
        offVariation: env.offVariation,
        prerequisites: [],
        trackEvents: false,
        trackEventsFallthrough: false,
        _environmentName: info.name,
        _site: { href: `/web/features/${flag.key}/targeting?env=${envKey}`, type: 'text/html' },
        _summary: { variations: {}, prerequisites: 0 },
      }
    }
    return {
      key: flag.key,
      name: flag.name,
      kind: flag.kind,
      description: flag.description,
      _version: flag._version,
      creationDate: flag.creationDate,
      includeInSnippet: false,
      clientSideAvailability: { usingMobileKey: false, usingEnvironmentId: false },
      variations: flag.variations,
      temporary: false,
      tags: flag.tags,
      _links: {
        parent: { href: `/api/v2/flags/${projectKey}`, type: 'application/json' },
        self: { href: `/api/v2/flags/${projectKey}/${flag.key}`, type: 'application/json' },
      },
      maintainerId: null,
      archived: false,
      deprecated: false,
      customProperties: {},
      experiments: { baselineIdx: 0, items: [] },
      environments,
    }
  }

  /** A rule; one a release drives serves what its phase serves now (a rollout while it runs). */
  function renderRule(rule) {
    const out = view(rule)
    const release = rule.$release && releases.get(rule.$release)
    if (!release) return out
    const flag = flagOf(release)
    const target = flag.variations.findIndex((v) => v._id === release.targetVariationId)
    const original = flag.variations.findIndex((v) => v._id === release.originalVariationId)
    const phase = release.phases[rule.$phase]
    delete out.variation
    delete out.rollout
    if (phase.status === 'in_progress' || phase.status === 'waiting') {
      const allocation = phase.steps[phase.currentStepIndex].allocation
      out.rollout = { contextKind: release.randomizationUnit, variations: [{ variation: target, weight: allocation }, { variation: original, weight: FULL - allocation }] }
    } else {
      out.variation = phase.status === 'completed' ? target : original
    }
    if (phase.status === 'pending') out.disabled = true
    return out
  }

  // ---- validation of a start -----------------------------------------------------------

  /** What is wrong with a clause, or null. */
  function clauseProblem(clause, at) {
    if (!isObject(clause)) return `${at} must be an object`
    if (typeof clause.attribute !== 'string' || !clause.attribute) return `${at}.attribute is required`
    if (!CLAUSE_OPS.includes(clause.op)) return `${at}.op must be one of ${CLAUSE_OPS.join(', ')}`
    if (!Array.isArray(clause.values)) return `${at}.values must be an array`
    // typeof null is 'object' too.
    if (clause.values.some((v) => typeof v === 'object')) return `${at}.values: JSON primitives only (strings, numbers, booleans); objects, arrays, and null are rejected`
    if (clause.negate !== undefined && clause.negate !== null && typeof clause.negate !== 'boolean') return `${at}.negate must be a boolean`
    if (clause.contextKind !== undefined && clause.contextKind !== null && typeof clause.contextKind !== 'string') return `${at}.contextKind must be a string`
    return null
  }

  const hasKindClause = (clauses, unit) =>
    clauses.some((c) => c.contextKind === unit && c.attribute === 'kind' && c.op === 'in' && !c.negate && Array.isArray(c.values) && c.values.length === 1 && c.values[0] === unit)
  const kindClauseMessage = (at, unit) =>
    `${at}: the rule must include the clause ${JSON.stringify({ contextKind: unit, attribute: 'kind', op: 'in', values: [unit] })}, not negated and with no other values, so the release only reaches contexts of the randomizationUnit kind ${JSON.stringify(unit)}`

  /** Validates a start against the flag; returns `{ status, code, message, ... }` or `{ config }`. */
  function validateStart(project, flag, envKey, input) {
    const bad = (message) => ({ status: 400, code: 'invalid_request', message })
    if (!isObject(input)) return bad('the body must be a JSON object')
    let config = input
    if (input.releasePlanKey !== undefined && input.releasePlanKey !== null) {
      if (typeof input.releasePlanKey !== 'string' || !input.releasePlanKey) return bad('releasePlanKey must be a non-empty string')
      if (!plansAvailable) return { status: 422, code: 'unprocessable_entity', message: 'Environment release plans are not yet available for this account: configure the release inline (omit releasePlanKey)' }
      const supplied = ['randomizationUnit', 'phases', 'metrics', 'advancementMode', 'cleanupBehavior'].filter((k) => input[k] !== undefined && input[k] !== null)
      if (supplied.length) return bad(`the release plan supplies ${supplied.join(', ')}: omit ${supplied.length === 1 ? 'it' : 'them'} when releasePlanKey is set`)
      const plan = project.plans.get(JSON.stringify([envKey, input.releasePlanKey]))
      if (!plan) return bad(`release plan ${JSON.stringify(input.releasePlanKey)} not found in environment ${JSON.stringify(envKey)}`)
      if (!plan.randomizationUnit || !Array.isArray(plan.phases) || plan.phases.length === 0) return bad(`release plan ${JSON.stringify(plan.key)} is incomplete: it needs a randomizationUnit and phases`)
      const metrics = (plan.metrics ?? []).flatMap((m) => (m.metricGroupKey ? (plan.metricGroups?.[m.metricGroupKey] ?? []).map((metricKey) => ({ metricKey, autoRollback: m.autoRollback })) : [m]))
      config = { ...input, randomizationUnit: plan.randomizationUnit, phases: plan.phases, metrics, advancementMode: plan.advancementMode, cleanupBehavior: plan.cleanupBehavior }
    }
    for (const name of ['originalVariationId', 'targetVariationId']) {
      if (typeof config[name] !== 'string' || !UUID_RE.test(config[name])) return bad(`${name} is required and must be a UUID`)
    }
    const original = flag.variations.find((v) => v._id === config.originalVariationId)
    const target = flag.variations.find((v) => v._id === config.targetVariationId)
    if (!original) return bad(`originalVariationId ${config.originalVariationId} is not a variation of flag ${flag.key}`)
    if (!target) return bad(`targetVariationId ${config.targetVariationId} is not a variation of flag ${flag.key}`)
    if (original === target) return bad('targetVariationId must differ from originalVariationId')
    const unit = config.randomizationUnit
    if (typeof unit !== 'string' || !unit) return bad('randomizationUnit is required unless releasePlanKey is set')
    const kind = project.contextKinds.find((k) => k.key === unit)
    if (!kind) return bad(`randomizationUnit ${JSON.stringify(unit)} is not a context kind of this project`)
    if (kind.archived) return bad(`randomizationUnit ${JSON.stringify(unit)} is an archived context kind`)
    if (config.cleanupBehavior !== undefined && config.cleanupBehavior !== null && !CLEANUP.includes(config.cleanupBehavior)) return bad(`cleanupBehavior must be one of ${CLEANUP.join(', ')}`)
    if (config.advancementMode !== undefined && config.advancementMode !== null && !ADVANCEMENT.includes(config.advancementMode)) return bad(`advancementMode must be one of ${ADVANCEMENT.join(', ')}`)
    if (config.comment !== undefined && config.comment !== null && typeof config.comment !== 'string') return bad('comment must be a string')
    const bypass = config.bypassHealthChecks ?? []
    if (!Array.isArray(bypass) || bypass.some((k) => !HEALTH_CHECKS.includes(k))) return bad(`bypassHealthChecks must be an array of ${HEALTH_CHECKS.join(', ')}`)
    // Metrics: none (progressive) or individual metrics of the project (guarded).
    const metrics = config.metrics ?? []
    if (!Array.isArray(metrics)) return bad('metrics must be an array')
    const seen = new Set()
    for (const [i, m] of metrics.entries()) {
      if (!isObject(m) || typeof m.metricKey !== 'string' || !m.metricKey) return bad(`metrics[${i}].metricKey is required`)
      if (m.autoRollback !== undefined && m.autoRollback !== null && typeof m.autoRollback !== 'boolean') return bad(`metrics[${i}].autoRollback must be a boolean`)
      if (project.metricGroups.has(m.metricKey)) return bad(`metrics[${i}]: ${m.metricKey} is a metric group; metric groups are not accepted, list its metrics individually`)
      if (!project.metrics.has(m.metricKey)) return bad(`metrics[${i}]: no metric ${JSON.stringify(m.metricKey)} in this project`)
      if (seen.has(m.metricKey)) return bad(`metrics[${i}]: metric ${m.metricKey} is listed twice`)
      seen.add(m.metricKey)
    }
    const guarded = metrics.length > 0
    // Phases.
    const phases = config.phases
    if (!Array.isArray(phases) || phases.length === 0) return bad('phases is required (at least one phase) unless releasePlanKey is set')
    if (phases.length > 1 && !config.advancementMode) return bad('advancementMode is required for a release with more than one phase')
    const env = flag.environments[envKey]
    if (config.beforeRuleId !== undefined && config.beforeRuleId !== null && !env.rules.some((r) => r._id === config.beforeRuleId)) return bad(`beforeRuleId ${config.beforeRuleId} is not a rule of this flag in ${envKey}`)
    const descriptions = new Set(env.rules.map((r) => r.description))
    for (const [i, phase] of phases.entries()) {
      const at = `phases[${i}]`
      if (!isObject(phase)) return bad(`${at} must be an object`)
      const existing = phase.ruleId !== undefined && phase.ruleId !== null
      const fresh = phase.clauses !== undefined && phase.clauses !== null
      if (existing === fresh) return bad(`${at} must set exactly one of ruleId (an existing rule) or clauses (a new rule)`)
      if (!Array.isArray(phase.steps) || phase.steps.length === 0) return bad(`${at}.steps must have at least one step`)
      let previous = 0
      for (const [j, step] of phase.steps.entries()) {
        const sat = `${at}.steps[${j}]`
        if (!isObject(step)) return bad(`${sat} must be an object`)
        if (!isInteger(step.allocation) || step.allocation < 1 || step.allocation > FULL) return bad(`${sat}.allocation must be an integer from 1 to ${FULL} (thousandths of a percent)`)
        if (guarded && step.allocation > GUARDED_MAX) return bad(`${sat}.allocation: guarded releases cannot exceed ${GUARDED_MAX}, preserving a control group`)
        if (step.allocation <= previous) return bad(`${sat}.allocation must be greater than the previous step's (${previous})`)
        if (!isInteger(step.durationMillis) || step.durationMillis < 1) return bad(`${sat}.durationMillis must be a positive integer`)
        previous = step.allocation
      }
      if (existing) {
        if (phases.length > 1) return bad(`${at}: only a single-phase release can use an existing rule (ruleId)`)
        const rule = env.rules.find((r) => r._id === phase.ruleId)
        if (!rule) return bad(`${at}.ruleId ${phase.ruleId} is not a rule of this flag in ${envKey}`)
        if (rule.disabled) return bad(`${at}.ruleId ${phase.ruleId}: the rule must be enabled`)
        if (!hasKindClause(rule.clauses, unit)) return bad(kindClauseMessage(at, unit))
      } else {
        if (!Array.isArray(phase.clauses) || phase.clauses.length === 0) return bad(`${at}.clauses must have at least one clause`)
        for (const [j, clause] of phase.clauses.entries()) {
          const problem = clauseProblem(clause, `${at}.clauses[${j}]`)
          if (problem) return bad(problem)
        }
        if (!hasKindClause(phase.clauses, unit)) return bad(kindClauseMessage(at, unit))
        if (phase.description !== undefined && phase.description !== null) {
          if (typeof phase.description !== 'string') return bad(`${at}.description must be a string`)
          if (descriptions.has(phase.description)) return bad('duplicate rule description not allowed')
          descriptions.add(phase.description)
        }
        const same = env.rules.findIndex((r) => JSON.stringify(normalClauses(r.clauses)) === JSON.stringify(normalClauses(phase.clauses)))
        if (same >= 0) return bad(`new rule is exact duplicate of an existing rule at index ${same}`)
      }
    }
    return { config, original, target, guarded, bypass }
  }

  const normalClauses = (clauses) => clauses.map((c) => ({ contextKind: c.contextKind ?? null, attribute: c.attribute, op: c.op, values: c.values, negate: Boolean(c.negate) }))

  /** Health checks that fail for this start, from the configured failures, minus those bypassed. */
  function failingChecks(projectKey, flagKey, envKey, guarded, bypass) {
    const failing = new Set()
    for (const [where, kinds] of healthChecks) {
      const [p, f, e] = JSON.parse(where)
      if ((p === '*' || p === projectKey) && (f === '*' || f === flagKey) && (e === '*' || e === envKey)) for (const k of kinds) failing.add(k)
    }
    return HEALTH_CHECKS.filter((k) => failing.has(k) && (guarded || !k.startsWith('metric_')) && !bypass.includes(k))
  }

  function startRelease(route, project, flag, checked, at) {
    const { config, original, target, guarded } = checked
    const env = flag.environments[route.environmentKey]
    const id = randomUUID()
    const rules = []
    const phases = config.phases.map((input, i) => {
      let ruleId = input.ruleId
      if (ruleId) {
        const rule = env.rules.find((r) => r._id === ruleId)
        Object.assign(rule, { $release: id, $phase: i, $existing: true })
      } else {
        ruleId = randomUUID()
        rules.push({ _id: ruleId, ...(input.description != null ? { description: input.description } : {}), clauses: input.clauses.map((c) => ({ ...c, negate: Boolean(c.negate) })), trackEvents: false, $release: id, $phase: i })
      }
      return {
        id: randomUUID(),
        phaseIndex: i,
        ruleId,
        description: input.ruleId ? (env.rules.find((r) => r._id === input.ruleId).description ?? null) : (input.description ?? null),
        status: 'pending',
        statusReason: null,
        steps: input.steps.map((s, j) => ({ stepIndex: j, allocation: s.allocation, durationMillis: s.durationMillis, startedAt: null, endedAt: null })),
        currentStepIndex: null,
        startedAt: null,
        endedAt: null,
        metricStatuses: {},
      }
    })
    const before = config.beforeRuleId ? env.rules.findIndex((r) => r._id === config.beforeRuleId) : -1
    if (before >= 0) env.rules.splice(before, 0, ...rules)
    else env.rules.push(...rules)
    const base = `/api/v2/projects/${route.projectKey}/flags/${route.flagKey}/environments/${route.environmentKey}/releases`
    const release = {
      id,
      status: 'pending',
      statusReason: null,
      projectKey: route.projectKey,
      environmentKey: route.environmentKey,
      flagKey: route.flagKey,
      originalVariationId: original._id,
      originalVariationValue: original.value,
      targetVariationId: target._id,
      targetVariationValue: target.value,
      randomizationUnit: config.randomizationUnit,
      cleanupBehavior: config.cleanupBehavior ?? 'leave_rules_in_place',
      kind: guarded ? 'guarded' : 'progressive',
      metrics: (config.metrics ?? []).map((m) => ({ metricKey: m.metricKey, metricVersionId: uuidOf(`metric-version/${route.projectKey}/${m.metricKey}`), autoRollback: Boolean(m.autoRollback) })),
      phases,
      currentPhaseIndex: null,
      advancementMode: config.advancementMode ?? 'automatic',
      createdAt: at,
      startedAt: null,
      endedAt: null,
      _links: {
        self: { href: `${base}/${id}`, type: 'application/json' },
        parent: { href: `/api/v2/flags/${route.projectKey}/${route.flagKey}`, type: 'application/json' },
      },
      $startAt: at + pendingMs,
      $seq: nextNs(at),
    }
    releases.set(id, release)
    sync(release, at)
    return release
  }

  // ---- listing -------------------------------------------------------------------------

  function readList(query) {
    const intParam = (name, fallback) => {
      const text = query.get(name)
      if (text === null) return fallback
      return /^\d+$/.test(text) ? Number(text) : NaN
    }
    const limit = intParam('limit', DEFAULT_LIMIT)
    if (Number.isNaN(limit) || limit < 1) return { error: 'limit must be an integer from 1 to 100' }
    if (limit > MAX_LIMIT) return { error: `limit must be at most ${MAX_LIMIT}` }
    const offsetValue = intParam('offset', 0)
    if (Number.isNaN(offsetValue)) return { error: 'offset must be a non-negative integer' }
    let kind = null
    const filter = query.get('filter')
    if (filter !== null && filter.trim() !== '') {
      const match = /^\s*kind\s+equals\s+"?(progressive|guarded)"?\s*$/.exec(filter)
      if (!match) return { error: `unsupported filter ${JSON.stringify(filter)}: the only filter is kind equals progressive or kind equals guarded` }
      kind = match[1]
    }
    return { limit, offset: offsetValue, kind, filter }
  }

  function list(route, query, t) {
    const page = readList(query)
    if (page.error) return { error: page.error }
    // The snapshot pins the read to the releases that existed then (ns since the epoch);
    // out-of-range values (not a number, before the epoch, after now) are ignored.
    const latest = nowNs(t)
    let snapshot = latest
    const given = query.get('_snapshot')
    if (/^\d{1,25}$/.test(given) && BigInt(given) <= latest) snapshot = BigInt(given)
    const matching = [...releases.values()]
      .filter((r) => r.projectKey === route.projectKey && r.flagKey === route.flagKey && r.environmentKey === route.environmentKey)
      .filter((r) => r.$seq <= snapshot)
      .map((r) => (sync(r, t), r))
      .filter((r) => !expired(r, t) && (!page.kind || r.kind === page.kind))
      .reverse() // newest first: the map holds them in the order they were created
    const total = matching.length
    const href = (offset) => {
      const q = new URLSearchParams()
      if (page.kind) q.set('filter', `kind equals ${page.kind}`)
      q.set('limit', String(page.limit))
      q.set('offset', String(offset))
      q.set('_snapshot', String(snapshot))
      return { href: `${route.path}?${q}`, type: 'application/json' }
    }
    const links = { self: href(page.offset), parent: { href: `/api/v2/flags/${route.projectKey}/${route.flagKey}`, type: 'application/json' }, first: href(0) }
    if (page.offset > 0) links.prev = href(Math.max(0, Math.min(page.offset - page.limit, Math.max(0, total - page.limit))))
    if (page.offset + page.limit < total) links.next = href(page.offset + page.limit)
    links.last = href(total === 0 ? 0 : Math.floor((total - 1) / page.limit) * page.limit)
    return { body: { items: matching.slice(page.offset, page.offset + page.limit).map((r) => render(r)), totalCount: total, _links: links } }
  }

  // ---- release policies ----------------------------------------------------------------

  function configProblem(config, name) {
    if (config === undefined || config === null) return null
    if (!isObject(config)) return `${name} must be an object`
    if (config.rolloutContextKindKey != null && typeof config.rolloutContextKindKey !== 'string') return `${name}.rolloutContextKindKey must be a string`
    for (const list of ['metricKeys', 'metricGroupKeys']) {
      if (config[list] != null && (!Array.isArray(config[list]) || config[list].some((k) => typeof k !== 'string'))) return `${name}.${list} must be an array of strings`
    }
    if (config.minSampleSize != null && (!isInteger(config.minSampleSize) || config.minSampleSize < 0)) return `${name}.minSampleSize must be a non-negative integer`
    if (config.rollbackOnRegression != null && typeof config.rollbackOnRegression !== 'boolean') return `${name}.rollbackOnRegression must be a boolean`
    if (config.stages != null) {
      if (!Array.isArray(config.stages)) return `${name}.stages must be an array`
      if (config.stages.length > MAX_STAGES) return `${name}.stages: at most ${MAX_STAGES} stages for this account`
      for (const [i, s] of config.stages.entries()) {
        if (!isObject(s) || !isInteger(s.allocation) || !isInteger(s.durationMillis)) return `${name}.stages[${i}] needs integer allocation and durationMillis`
        if (s.allocation < 1 || s.allocation > FULL) return `${name}.stages[${i}].allocation must be from 1 to ${FULL}`
        if (s.durationMillis < 1) return `${name}.stages[${i}].durationMillis must be positive`
      }
    }
    return null
  }

  function policyProblem(project, input, withKey) {
    if (!isObject(input)) return 'the body must be a JSON object'
    if (withKey && (typeof input.key !== 'string' || !KEY_RE.test(input.key))) return "key is required: letters, numbers, '.', '_' and '-'"
    if (typeof input.name !== 'string' || !input.name) return 'name is required'
    if (input.name.length > 256) return 'name must be at most 256 characters'
    if (!RELEASE_METHODS.includes(input.releaseMethod)) return `releaseMethod must be one of ${RELEASE_METHODS.join(', ')}`
    if (input.scope !== undefined && input.scope !== null) {
      if (!isObject(input.scope)) return 'scope must be an object'
      const { environmentKeys, flagTagKeys } = input.scope
      if (environmentKeys != null) {
        if (!Array.isArray(environmentKeys) || environmentKeys.some((k) => typeof k !== 'string')) return 'scope.environmentKeys must be an array of strings'
        const unknown = environmentKeys.find((k) => !project.environments.has(k))
        if (unknown !== undefined) return `scope.environmentKeys: no environment ${JSON.stringify(unknown)} in this project`
      }
      if (flagTagKeys != null) {
        if (!Array.isArray(flagTagKeys) || flagTagKeys.length > 1000) return 'scope.flagTagKeys must be an array of at most 1000 keys'
        if (flagTagKeys.some((k) => typeof k !== 'string' || k.length > 64 || !KEY_RE.test(k))) return "scope.flagTagKeys: each key must only contain letters, numbers, '-', '_', or '.', and be at most 64 characters"
      }
    }
    const problem = configProblem(input.guardedReleaseConfig, 'guardedReleaseConfig') ?? configProblem(input.progressiveReleaseConfig, 'progressiveReleaseConfig')
    if (problem) return problem
    if (input.releaseMethod === 'guarded-release' && input.progressiveReleaseConfig) return 'progressiveReleaseConfig does not apply to a guarded-release policy: use guardedReleaseConfig'
    if (input.releaseMethod === 'progressive-release' && input.guardedReleaseConfig) return 'guardedReleaseConfig does not apply to a progressive-release policy: use progressiveReleaseConfig'
    if (input.releaseMethod === 'immediate-release' && (input.guardedReleaseConfig || input.progressiveReleaseConfig)) return 'an immediate-release policy takes no guardedReleaseConfig or progressiveReleaseConfig'
    for (const metricKey of input.guardedReleaseConfig?.metricKeys ?? []) {
      if (!project.metrics.has(metricKey)) return `guardedReleaseConfig.metricKeys: no metric ${JSON.stringify(metricKey)} in this project`
    }
    return null
  }

  const policyList = (project) => [...project.policies.values()].sort((a, b) => (a.scope ? 0 : 1) - (b.scope ? 0 : 1) || a.rank - b.rank)

  function handlePolicies(req, res, route, method, body, extra, query) {
    const project = projectOf(route.projectKey)
    const bad = (message) => send(res, 400, { code: 'invalid_request', message }, extra)
    const notAllowed = () => send(res, 405, { code: 'method_not_allowed', message: `${req.method} is not allowed on ${route.path}` }, extra)
    if (route.name === 'release-policies') {
      if (method === 'GET') {
        const exclude = query.get('excludeDefault')
        if (exclude !== null && exclude !== 'true' && exclude !== 'false') return bad('excludeDefault must be true or false')
        const items = policyList(project).filter((p) => exclude !== 'true' || p.scope)
        return send(res, 200, { items, totalCount: items.length }, extra)
      }
      if (method !== 'POST') return notAllowed()
      const input = readJson(req, body)
      if (input.error) return bad(input.error)
      const problem = policyProblem(project, input.value, true)
      if (problem) return bad(problem)
      if (input.value.key === 'order') return bad('key "order" is reserved')
      if (project.policies.has(input.value.key)) return send(res, 409, { code: 'conflict', message: `A release policy with key ${input.value.key} already exists` }, extra)
      if (!input.value.scope && [...project.policies.values()].some((p) => !p.scope)) return bad('the project already has a default release policy (one without a scope): give this one a scope')
      return send(res, 201, addPolicy(project, input.value), extra)
    }
    if (route.name === 'release-policies-order') {
      if (method !== 'POST') return notAllowed()
      const input = readJson(req, body)
      if (input.error) return bad(input.error)
      const keys = input.value
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) return bad('the body must be an array of release policy keys')
      const scoped = [...project.policies.values()].filter((p) => p.scope)
      if (new Set(keys).size !== keys.length) return bad('each release policy key may appear only once')
      const unknown = keys.find((k) => !project.policies.has(k))
      if (unknown !== undefined) return bad(`no release policy ${JSON.stringify(unknown)} in this project`)
      const unscoped = keys.find((k) => !project.policies.get(k).scope)
      if (unscoped !== undefined) return bad(`${unscoped} is the default release policy, which has no rank: list only scoped policies`)
      const missing = scoped.filter((p) => !keys.includes(p.key)).map((p) => p.key)
      if (missing.length) return bad(`the order must include all of the scoped release policies; missing: ${missing.join(', ')}`)
      keys.forEach((k, i) => (project.policies.get(k).rank = i + 1))
      return send(res, 200, policyList(project).filter((p) => p.scope), extra)
    }
    const policy = project.policies.get(route.policyKey)
    if (!policy) return send(res, 404, { code: 'not_found', message: `No release policy ${route.policyKey} in project ${route.projectKey}` }, extra)
    if (method === 'GET') return send(res, 200, policy, extra)
    if (method === 'DELETE') {
      project.policies.delete(policy.key)
      policyList(project).filter((p) => p.scope).forEach((p, i) => (p.rank = i + 1))
      res.writeHead(204, extra)
      return res.end()
    }
    if (method !== 'PUT') return notAllowed()
    const input = readJson(req, body)
    if (input.error) return bad(input.error)
    const problem = policyProblem(project, input.value, false)
    if (problem) return bad(problem)
    if (Boolean(input.value.scope) !== Boolean(policy.scope)) return bad(policy.scope ? 'a scoped release policy must keep a scope' : 'the default release policy cannot be given a scope')
    Object.assign(policy, {
      name: input.value.name,
      scope: input.value.scope ?? null,
      releaseMethod: input.value.releaseMethod,
      guardedReleaseConfig: input.value.guardedReleaseConfig ?? null,
      progressiveReleaseConfig: input.value.progressiveReleaseConfig ?? null,
    })
    return send(res, 200, policy, extra)
  }

  // ---- the HTTP handler ----------------------------------------------------------------

  function handle(req, res, route, method, body, headers) {
    const query = new URL(req.url, 'http://fake').searchParams
    const t = now()
    // Answered on the fake's clock: its Date is fake time, as a server's Date is its own clock's.
    const extra = { ...headers, date: new Date(t).toUTCString() }
    const notAllowed = () => send(res, 405, { code: 'method_not_allowed', message: `${req.method} is not allowed on ${route.path}` }, extra)
    const notFound = (message) => send(res, 404, { code: 'not_found', message }, extra)
    if (route.name.startsWith('release-polic')) return handlePolicies(req, res, route, method, body, extra, query)
    const project = projectOf(route.projectKey)
    const flag = project.flags.get(route.flagKey)
    if (!flag) return notFound(`No flag ${route.flagKey} in project ${route.projectKey}`)
    if (route.name === 'flag') {
      if (method !== 'GET') return notAllowed()
      const env = query.get('env')
      return send(res, 200, renderFlag(route.projectKey, flag, env ? env.split(',') : null), extra)
    }
    const environment = project.environments.get(route.environmentKey)
    if (!environment) return notFound(`No environment ${route.environmentKey} in project ${route.projectKey}`)
    const approvals = () =>
      send(res, 405, { code: 'method_not_allowed', message: `Environment ${route.environmentKey} requires approvals: request a change through an approval, or use a token granted the bypassRequiredApproval action` }, extra)

    if (route.name === 'environment-releases') {
      if (method === 'GET') {
        const out = list(route, query, t)
        return out.error ? send(res, 400, { code: 'invalid_request', message: out.error }, extra) : send(res, 200, out.body, extra)
      }
      if (method !== 'POST') return notAllowed()
      if (environment.approvalsRequired) return approvals()
      const input = readJson(req, body)
      if (input.error) return send(res, 400, { code: 'invalid_request', message: input.error }, extra)
      const checked = validateStart(project, flag, route.environmentKey, input.value)
      if (checked.status) return send(res, checked.status, { code: checked.code, message: checked.message }, extra)
      if (!flag.environments[route.environmentKey].on) {
        return send(res, 409, { code: 'conflict', message: `Flag ${route.flagKey} is off in environment ${route.environmentKey}: turn it on before starting a release` }, extra)
      }
      const active = [...releases.values()].find((r) => r.projectKey === route.projectKey && r.flagKey === route.flagKey && r.environmentKey === route.environmentKey && (sync(r, t), !TERMINAL.has(r.status)))
      if (active) {
        return send(res, 409, { code: 'release_already_active', message: `Flag ${route.flagKey} already has an active release in ${route.environmentKey} (${active.id}). An earlier request may have started it: list the releases to confirm the running one is yours.` }, extra)
      }
      const failed = failingChecks(route.projectKey, route.flagKey, route.environmentKey, checked.guarded, checked.bypass)
      if (failed.length) {
        const unit = checked.config.randomizationUnit
        const failingChecks = failed.flatMap((kind) =>
          kind.startsWith('metric_')
            ? checked.config.metrics.map((m) => ({ kind, metricKey: m.metricKey, message: CHECK_MESSAGES[kind](unit, m.metricKey) }))
            : [{ kind, message: CHECK_MESSAGES[kind](unit) }],
        )
        return send(res, 400, { code: 'health_checks_failed', message: `Release health checks failed: ${failed.join(', ')}. To start the release anyway, list the failing kinds in bypassHealthChecks.`, failingChecks }, extra)
      }
      const started = render(startRelease(route, project, flag, checked, t))
      const lost = startFaults.shift()
      if (lost) return loseAnswer(req, res, lost, extra, started)
      return send(res, 201, started, extra)
    }
    const release = releases.get(route.releaseId)
    const belongs = release && release.projectKey === route.projectKey && release.flagKey === route.flagKey && release.environmentKey === route.environmentKey
    if (belongs) sync(release, t)
    if (!belongs || expired(release, t)) return notFound(`No environment release ${route.releaseId} for flag ${route.flagKey} in ${route.environmentKey}`)
    if (route.name === 'environment-release') {
      if (method !== 'GET') return notAllowed()
      const expand = query.getAll('expand').flatMap((e) => e.split(','))
      return send(res, 200, render(release, expand.includes('metrics')), extra)
    }
    if (method !== 'PUT') return notAllowed()
    if (environment.approvalsRequired) return approvals()
    const input = readJson(req, body)
    if (input.error) return send(res, 400, { code: 'invalid_request', message: input.error }, extra)
    const value = input.value
    if (!isObject(value)) return send(res, 400, { code: 'invalid_request', message: 'the body must be a JSON object' }, extra)
    if (!RESOLUTIONS.includes(value.resolution)) return send(res, 400, { code: 'invalid_request', message: `resolution must be one of ${RESOLUTIONS.join(', ')}` }, extra)
    if (value.comment !== undefined && value.comment !== null && typeof value.comment !== 'string') return send(res, 400, { code: 'invalid_request', message: 'comment must be a string' }, extra)
    const problem = stop(release, value.resolution, t)
    if (problem) return send(res, 400, { code: 'invalid_request', message: problem }, extra)
    return send(res, 200, render(release), extra)
  }

  // ---- answers lost after a start took effect ---------------------------------------------

  const startFaults = [] // one entry per start whose answer is lost

  /** The start took effect; its answer is dropped, replaced by a status, or sent late. */
  async function loseAnswer(req, res, fault, extra, release) {
    // A tick without delayMs. An answer to a client that has left goes nowhere, harmlessly.
    await new Promise((resolve) => setTimeout(resolve, fault.delayMs).unref())
    if (fault.drop) return req.socket.destroy()
    if (fault.status) return send(res, fault.status, { code: fault.status >= 500 ? 'internal_server_error' : 'error', message: `${fault.status} (the release was started)` }, extra)
    return send(res, 201, release, extra)
  }

  // ---- controls ------------------------------------------------------------------------

  const controls = {
    failStartAnswer(fault = {}) {
      if (!fault.drop && !fault.status && !fault.delayMs) throw new TypeError('failStartAnswer needs drop, status or delayMs')
      for (let i = 0; i < (fault.times ?? 1); i++) startFaults.push({ ...fault })
    },
    now,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance(ms): ms must be a finite number >= 0')
      offset += ms
      const t = now()
      for (const release of releases.values()) sync(release, t)
      return t
    },
    getEnvironmentRelease(releaseId) {
      return render(releaseOrThrow(releaseId))
    },
    continueRelease(releaseId) {
      const release = releaseOrThrow(releaseId)
      // (Only a waiting release has that reason.)
      if (release.statusReason !== 'waiting_phase_ended') {
        throw new Error(`release ${releaseId} is not waiting for its next phase (status ${release.status}, ${release.statusReason ?? 'no reason'})`)
      }
      beginPhase(release, release.$next, now())
      return render(release)
    },
    reportRegression(releaseId, metricKey) {
      const release = releaseOrThrow(releaseId)
      const metric = release.metrics.find((m) => m.metricKey === metricKey)
      if (!metric) throw new Error(`release ${releaseId} has no metric ${metricKey}`)
      if (release.currentPhaseIndex === null) throw new Error(`release ${releaseId} has no running phase (status ${release.status})`)
      const t = now()
      const phase = release.phases[release.currentPhaseIndex]
      phase.metricStatuses[metricKey] = 'regressed'
      if (metric.autoRollback) {
        endRunning(phase, 'reverted', 'reverted_regression_detected', t)
        for (const p of release.phases) if (p.status === 'pending') discard(p)
        finish(release, 'reverted', 'reverted_regression_detected', t)
      } else if (release.status !== 'waiting') {
        Object.assign(release, { status: 'waiting', statusReason: 'waiting_regression_detected', $pausedAt: t })
        Object.assign(phase, { status: 'waiting', statusReason: 'waiting_regression_detected' })
      }
      return render(release)
    },
    dismissRegression(releaseId, metricKey) {
      const release = releaseOrThrow(releaseId)
      const phase = release.phases[release.currentPhaseIndex] // none while currentPhaseIndex is null
      if (!phase || phase.metricStatuses[metricKey] !== 'regressed') throw new Error(`metric ${metricKey} has no regression to dismiss in release ${releaseId}`)
      phase.metricStatuses[metricKey] = 'regression_dismissed'
      // A phase with a regressed metric waits (or has ended): it resumes when none is left.
      if (!Object.values(phase.metricStatuses).includes('regressed')) {
        release.$deadline += now() - release.$pausedAt
        delete release.$pausedAt
        Object.assign(release, { status: 'in_progress', statusReason: null })
        Object.assign(phase, { status: 'in_progress', statusReason: null })
      }
      return render(release)
    },
    setHealthChecks(failing, where = {}) {
      setFailingChecks('failing', failing, where)
    },
    setApprovalsRequired(projectKey, environmentKey, required = true) {
      setApprovals(projectKey, environmentKey, Boolean(required))
    },
    setFlagOn(projectKey, flagKey, environmentKey, on) {
      const flag = projectOf(projectKey).flags.get(flagKey)
      const env = flag?.environments[environmentKey]
      if (!env) throw new Error(`no flag ${flagKey} in ${projectKey}/${environmentKey}`)
      env.on = Boolean(on)
      flag._version++
      if (env.on) return
      // Turning the flag off discards the phase that is running.
      const t = now()
      for (const release of releases.values()) {
        if (release.projectKey !== projectKey || release.flagKey !== flagKey || release.environmentKey !== environmentKey) continue
        sync(release, t)
        if (TERMINAL.has(release.status)) continue
        for (const p of release.phases) if (p.status === 'in_progress' || p.status === 'waiting') endRunning(p, 'reverted', 'reverted_discarded', t)
        for (const p of release.phases) if (p.status === 'pending') discard(p)
        finish(release, 'reverted', 'reverted_discarded', t)
      }
    },
    setFlag(projectKey, flag) {
      return renderFlag(projectKey, putFlag(projectKey, flag), null)
    },
    getFlag(projectKey, flagKey) {
      const flag = projectOf(projectKey).flags.get(flagKey)
      return flag && renderFlag(projectKey, flag, null)
    },
  }

  return { handle, controls }
}

module.exports = { parseEnvironmentRoute, createEnvironments }
