// Compiled with `tsc --noEmit --strict` by `npm test`: the public types must accept real use
// and reject misuse.
import {
  ReleaseClient,
  completePhase,
  completePhases,
  createRelease,
  deleteRelease,
  getRelease,
  updatePhaseStatus,
  patchRelease,
  phasePatch,
  previewRequest,
  reopenPhase,
  startPhase,
  type AbortError,
  type AbortedResult,
  type AdvanceResult,
  type AdvanceSkipReason,
  type BulkDryRunResult,
  type BulkResult,
  getReleaseProgressionSummary,
  type PhaseDryRun,
  type PipelineRelease,
  type PipelineReleasePhase,
  type PipelineReleaseProgression,
  type ReleaseProgressionSummary,
  type LaunchDarklyError,
  type LaunchDarklyErrorCode,
  type PatchOperation,
  type Release,
  type ReleasePhase,
  type ReleaseStatus,
  startEnvironmentRelease,
  stopEnvironmentRelease,
  getEnvironmentRelease,
  listReleasePolicies,
  reorderReleasePolicies,
  type EnvironmentRelease,
  type EnvironmentReleasePhase,
  type EnvironmentReleaseStatus,
  type EnvironmentReleaseResolution,
  type StartEnvironmentReleaseInput,
  type ReleasePoliciesResponse,
  type ReleasePolicy,
  type DiagnosticsChannels,
} from '../index.js'

async function useTheApi(signal: AbortSignal): Promise<number> {
  const client = new ReleaseClient({ apiKey: 'api-x', baseUrl: 'http://127.0.0.1:1', timeoutMs: 1000, maxRetries: 0, userAgent: 'ci' })
  const release: Release = await client.completePhase('web', 'checkout', 0, { signal, timeoutMs: 500 })
  const phase: ReleasePhase | undefined = release.phases[0]
  const done: boolean | undefined = phase?.complete
  const created: number | undefined = phase?._creationDate
  const by: string | undefined = phase?._completedBy?.member?.email ?? phase?._completedBy?.token?.name
  const variation: string | null | undefined = release._releaseVariationId
  const config: Record<string, unknown> | undefined = phase?.configuration
  void [done, created, by, variation, config]
  const closed: Promise<void> = client.close()
  const disposed: Promise<void> = client[Symbol.asyncDispose]()
  void [closed, disposed]

  await client.reopenPhase('web', 'checkout', 1)
  await client.getRelease('web', 'checkout')
  const ops: PatchOperation[] = phasePatch(2, true)
  await client.patchRelease('web', 'checkout', ops, { maxRetries: 1 })
  await completePhase('web', 'checkout', 0, { apiKey: 'api-x', signal })
  await reopenPhase('web', 'checkout', 0)
  await patchRelease('web', 'checkout', [{ op: 'replace', path: '/phases/0/complete', value: true }])
  await getRelease('web', 'checkout', { baseUrl: 'https://app.launchdarkly.us' })
  const preview = previewRequest('PATCH', 'web', 'checkout', ops, { apiKey: 'api-x' })
  const header: string | undefined = preview.headers['Authorization']
  void header

  const results: BulkResult[] = await client.completePhases(
    [{ projectKey: 'web', flagKey: 'a', phase: 0 }, { projectKey: 'web', flagKey: 'b', phase: 1, complete: false }],
    { concurrency: 4, signal, onProgress: (done: number, total: number) => void [done, total] },
  )
  for (const result of results) {
    if (result.ok) void result.release._version
    else void result.error.code
  }
  await completePhases([], { apiKey: 'api-x', concurrency: 2 })
  await client.completePhase('web', 'checkout', { name: 'QA' })
  await reopenPhase('web', 'checkout', { id: '6650a1b2c3d4e5f607182930' }, { methodOverride: true })
  const started: Release = await client.createRelease('web', 'checkout', { releasePipelineKey: 'standard' })
  const gone: void = await client.deleteRelease('web', 'checkout')
  await deleteRelease('web', 'checkout', { apiKey: 'api-x' })
  await createRelease('web', 'checkout', { releasePipelineKey: 'standard', releaseVariationId: 'v1' })
  await updatePhaseStatus('web', 'checkout', 'phase-id', {
    status: 'Started',
    audiences: [{ audienceId: 'a1', releaseGuardianConfiguration: { rolloutWeight: 50 }, notifyTeamKeys: ['qa'] }],
  })
  await client.updatePhaseStatus('web', 'checkout', 'phase-id', { status: 'Paused' })
  void [started, gone]
  // New release pipelines: start a phase, read sparse phases and kebab-case statuses.
  const moved: Release = await client.startPhase('web', 'checkout', { id: 'p1' }, { signal })
  await startPhase('web', 'checkout', 1, { apiKey: 'api-x' })
  const status: ReleaseStatus | undefined = moved.phases[1]?.status
  if (status === 'not-started' || status === 'ready-to-start' || status === 'active' || status === 'completed') void status
  const envLinks = moved.phases[0]?._audiences?.[0]?.environment?._links
  const movedVersion: number | undefined = moved._version
  const other: ReleaseStatus = 'paused-for-review'
  void [envLinks, movedVersion, other]
  // @ts-expect-error _audiences may be absent on a phase that has not started
  void moved.phases[0]._audiences.length
  // @ts-expect-error a phase named by neither name nor id
  await client.completePhase('web', 'checkout', { key: 'QA' })
  // @ts-expect-error createRelease needs a pipeline key
  await client.createRelease('web', 'checkout', {})
  // @ts-expect-error an item needs a flag key
  await client.completePhases([{ projectKey: 'web', phase: 0 }])

  // @ts-expect-error the phase is a number
  await client.completePhase('web', 'checkout', '0')
  // @ts-expect-error options are typed
  new ReleaseClient({ apiKey: 1 })
  // @ts-expect-error previewRequest only knows GET and PATCH
  previewRequest('DELETE', 'web', 'checkout')
  // @ts-expect-error `_version` is a number, not a string
  const version: string = release._version
  void version

  return release._version ?? 0
}

/** What became of each item of an aborted run: its `results` narrow on `ok` and `aborted`. */
function whatMoved(err: AbortError): string[] {
  const results = err.results ?? []
  const out: string[] = []
  for (const r of results) {
    if (r.ok) out.push('request' in r ? 'planned' : 'written')
    else if ('aborted' in r) out.push(r.aborted === 'unknown' ? 'in flight' : 'not sent')
    else out.push(r.error.code)
  }
  const cut: AbortedResult = { ok: false, aborted: 'not-sent' }
  // @ts-expect-error an item the abort cut short has no error: it did not fail
  void cut.error
  // @ts-expect-error only 'not-sent' and 'unknown'
  const wrong: AbortedResult = { ok: false, aborted: 'done' }
  void wrong
  return out
}
void whatMoved

function describe(err: unknown): string {
  const e = err as LaunchDarklyError | { name: 'AbortError'; code: 'ABORT_ERR' }
  if (e.name === 'AbortError') return 'aborted'
  switch (e.code) {
    case 'ERR_LD_RATE_LIMITED':
      return `wait ${e.retryAfterMs ?? 0} ms`
    case 'ERR_LD_NOT_FOUND':
      return `missing (${e.status}, ${e.apiCode})`
    default: {
      const code: LaunchDarklyErrorCode = e.code
      // @ts-expect-error not a code the library raises
      const wrong: LaunchDarklyErrorCode = 'ERR_LD_SOMETHING_ELSE'
      return `${code} after ${e.attempts} attempts ${wrong}`
    }
  }
}

async function useEnvironmentReleases(signal: AbortSignal): Promise<string> {
  const client = new ReleaseClient({ apiKey: 'api-x' })
  const input: StartEnvironmentReleaseInput = {
    originalVariationId: 'off',
    targetVariationId: 'on',
    randomizationUnit: 'user',
    advancementMode: 'automatic',
    metrics: [{ metricKey: 'errors', autoRollback: true }],
    bypassHealthChecks: ['flag_evaluations_any'],
    phases: [
      { clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['nz'] }], description: 'NZ', steps: [{ allocation: 10000, durationMillis: 60000 }] },
      { clauses: [], steps: [{ allocation: 50000, durationMillis: 60000 }] },
    ],
  }
  const release: EnvironmentRelease = await client.startEnvironmentRelease('web', 'checkout', 'production', input, { signal })
  await startEnvironmentRelease('web', 'checkout', 'production', { originalVariationId: 'a', targetVariationId: 'b', releasePlanKey: 'plan' }, { apiKey: 'api-x' })
  await client.startEnvironmentRelease('web', 'checkout', 'production', { originalVariationId: 'a', targetVariationId: 'b', randomizationUnit: 'user', phases: [{ ruleId: 'r1', steps: [{ allocation: 100000, durationMillis: 1 }] }] })
  const status: EnvironmentReleaseStatus = release.status
  const phase: EnvironmentReleasePhase | undefined = release.phases[0]
  const allocation: number | undefined = phase?.steps[0]?.allocation
  const current: number | null = release.currentPhaseIndex
  const started: number | null | undefined = release.startedAt
  const created: number = release.createdAt
  const metric: string | undefined = phase?.metricStatuses['errors']
  const future: EnvironmentReleaseStatus = 'paused_by_someone'
  void [allocation, current, started, created, metric, future]
  const resolution: EnvironmentReleaseResolution = 'roll_back_all_phases_and_remove_pending_phases'
  await client.stopEnvironmentRelease('web', 'checkout', 'production', release.id, { resolution, comment: 'errors up', signal })
  await stopEnvironmentRelease('web', 'checkout', 'production', release.id, { resolution: 'roll_forward_all_phases', apiKey: 'api-x' })
  const full = await getEnvironmentRelease('web', 'checkout', 'production', release.id, { expandMetrics: true })
  const definition: string | undefined = full.metrics[0]?.definition?.name
  const policies: ReleasePoliciesResponse = await listReleasePolicies('web')
  const first: ReleasePolicy | undefined = policies.items[0]
  const ranked: unknown[] | undefined = await reorderReleasePolicies('web', ['a', 'b'])
  const gone: void = await client.deleteReleasePolicy('web', 'a')
  void [definition, first, ranked, gone]
  const preview = previewRequest('stopEnvironmentRelease', 'web', 'checkout', 'production', 'r1', { resolution: 'roll_forward_all_phases' })
  const deprecation: DiagnosticsChannels['ld-release:deprecation'] = { method: 'GET', route: '/x', sunset: 'soon' }
  void [preview, deprecation]
  try {
    await client.startEnvironmentRelease('web', 'checkout', 'production', input)
  } catch (err) {
    const e = err as LaunchDarklyError
    if (e.code === 'ERR_LD_OUTCOME_UNKNOWN' || e.code === 'ERR_LD_APPROVAL_REQUIRED') return e.code
    if (e.apiCode === 'health_checks_failed') return (e.failedHealthChecks ?? []).join(',')
  }

  // @ts-expect-error a resolution the API does not have
  await client.stopEnvironmentRelease('web', 'checkout', 'production', 'r1', { resolution: 'undo' })
  // @ts-expect-error a plan supplies the phases: not both
  await client.startEnvironmentRelease('web', 'checkout', 'production', { ...input, releasePlanKey: 'plan' })
  // @ts-expect-error a phase is an existing rule or new clauses, not both
  await client.startEnvironmentRelease('web', 'checkout', 'production', { ...input, phases: [{ ruleId: 'r', clauses: [], steps: [] }] })
  // @ts-expect-error an inline start names its randomization unit
  await client.startEnvironmentRelease('web', 'checkout', 'production', { originalVariationId: 'a', targetVariationId: 'b', phases: [] })
  // @ts-expect-error expandMetrics is an option of getEnvironmentRelease
  await client.stopEnvironmentRelease('web', 'checkout', 'production', 'r1', { resolution, expandMetrics: true })
  // @ts-expect-error createdAt is a number (Unix ms)
  const when: string = release.createdAt
  void when
  return status
}

void useTheApi
void describe
void useEnvironmentReleases

// Environment releases as a list and as a watch.
import {
  listEnvironmentReleases,
  watchEnvironmentRelease,
  type EnvironmentReleaseListOptions,
  type WatchOptions,
} from '../index.js'

async function followReleases(client: ReleaseClient, signal: AbortSignal): Promise<string[]> {
  const ids: string[] = []
  const guarded: EnvironmentReleaseListOptions = { kind: 'guarded' }
  for await (const release of client.listEnvironmentReleases('web', 'checkout', 'production', { ...guarded, signal })) {
    const r: EnvironmentRelease = release
    ids.push(r.id)
  }
  for await (const r of listEnvironmentReleases('web', 'checkout', 'production', { apiKey: 'api-x', kind: 'progressive' })) {
    ids.push(r.status)
  }
  const options: WatchOptions = { intervalMs: 10_000 }
  for await (const r of client.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { ...options, signal })) {
    const phase: number | null = r.currentPhaseIndex
    if (r.status === 'completed' || r.status === 'reverted') ids.push(`${r.statusReason ?? ''} ${phase}`)
  }
  const iterator: AsyncIterableIterator<EnvironmentRelease> = watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', {
    baseUrl: 'http://127.0.0.1:1',
  })
  await iterator.return?.()
  previewRequest('listEnvironmentReleases', 'web', 'checkout', 'production', { kind: 'guarded' })
  previewRequest('watchEnvironmentRelease', 'web', 'checkout', 'production', 'rel-1', { intervalMs: 1000 })
  // @ts-expect-error a kind the list does not know
  client.listEnvironmentReleases('web', 'checkout', 'production', { kind: 'canary' })
  // @ts-expect-error the watch needs the release id
  client.watchEnvironmentRelease('web', 'checkout', 'production')
  // @ts-expect-error intervalMs is a number
  client.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { intervalMs: '30s' })
  // @ts-expect-error kind is an option of the list only
  client.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { kind: 'guarded' })
  return ids
}

void followReleases

// Dry runs: `{ dryRun: true }` types the result as what it is; without it, a Release.
async function dryRuns(client: ReleaseClient): Promise<void> {
  const plan: PhaseDryRun = await client.completePhase('web', 'checkout', { name: 'QA' }, { dryRun: true })
  const method: string | undefined = plan.request?.method
  const read: Release | null = plan.release
  void [method, read]
  const release: Release = await client.completePhase('web', 'checkout', 0)
  const notDry: Release = await client.reopenPhase('web', 'checkout', 0, { dryRun: false, timeoutMs: 10 })
  const start: PhaseDryRun = await startPhase('web', 'checkout', { id: 'p' }, { dryRun: true, apiKey: 'api-x' })
  const either: Release | PhaseDryRun = await client.startPhase('web', 'checkout', 1, { dryRun: Math.random() > 0.5 })
  void [release, notDry, start, either]
  const planned: BulkDryRunResult[] = await client.completePhases([{ projectKey: 'web', flagKey: 'a', phase: 0 }], { dryRun: true })
  for (const item of planned) {
    if (item.ok) void item.request?.url
    else void item.error.code
  }
  const done: BulkResult[] = await completePhases([], { concurrency: 2 })
  void done
  // advancePipeline: a skipped flag narrows on `skipped`; every result that is not ok has `error`.
  const advanced: AdvanceResult[] = await client.advancePipeline('web', 'p', 0)
  for (const r of advanced) {
    if (r.skipped) {
      const reason: AdvanceSkipReason = r.reason
      const at: string | null = r.activePhaseId
      void [reason, at, r.error.code]
    } else if (!r.ok) void r.error.code
    else if ('request' in r) void r.request.url
    else void r.release.phases
    if (!r.ok) void r.error.message
    // @ts-expect-error only a skipped result has a reason
    void r.reason
  }
  // @ts-expect-error the reasons are named
  const badReason: AdvanceSkipReason = 'elsewhere'
  void badReason
  // @ts-expect-error dryRun is a boolean
  await client.completePhase('web', 'checkout', 0, { dryRun: 'yes' })
  // @ts-expect-error a dry run's result is no Release
  const wrong: Release = await client.completePhase('web', 'checkout', 0, { dryRun: true })
  void wrong
}

// v25's names, the pipeline list's query, and the progression summary.
async function v25(client: ReleaseClient): Promise<void> {
  const release: PipelineRelease = await client.getRelease('web', 'checkout')
  const phase: PipelineReleasePhase | undefined = release.phases[0]
  void phase
  for await (const pipeline of client.listReleasePipelines('web', { query: 'rollout' })) void pipeline._access?.denied
  for await (const progression of client.listReleaseProgressions('web', 'standard')) {
    const p: PipelineReleaseProgression = progression
    void p.activePhaseStatus
  }
  const summary: ReleaseProgressionSummary = await client.getReleaseProgressionSummary('web', 'standard')
  const counts: number[] = [summary.totalCount, summary.activeCount, summary.completedCount, ...summary.phases.map((p) => p.releaseCount)]
  void counts
  await getReleaseProgressionSummary('web', 'standard', { apiKey: 'api-x' })
  const beta: LaunchDarklyErrorCode = 'ERR_LD_BETA_HEADER_MISSING'
  void beta
  // @ts-expect-error query is a string
  client.listReleasePipelines('web', { query: 1 })
}
void dryRuns
void v25

// A flag, as a release reads it.
import { getFlag, type Flag, type FlagVariation } from '../index.js'

async function readFlag(client: ReleaseClient): Promise<string[]> {
  const flag: Flag = await client.getFlag('web', 'new-checkout')
  const variation: FlagVariation | undefined = flag.variations[0]
  const on: boolean | undefined = flag.environments?.['production']?.on
  const served: number | null | undefined = flag.environments?.['production']?.fallthrough?.variation
  void [on, served]
  const other = await getFlag('web', 'x', { apiKey: 'api-x', maxRetries: 0 })
  previewRequest('getFlag', 'web', 'new-checkout')
  // @ts-expect-error the flag key is required
  await client.getFlag('web')
  return [variation?._id ?? '', other.key]
}

void readFlag
