import type { PatchOperation, Release, ReleasePhase } from '../index'

/** Options of `startFakeLaunchDarkly`. */
export interface FakeOptions {
  /** The token it accepts, compared exactly with `Authorization` (raw, no `Bearer`). Default: a random `api-fake-<hex>`. */
  apiKey?: string
  /** The port to listen on; it always binds 127.0.0.1. Default 0: any free port. */
  port?: number
  /** Releases it holds at start, per project and flag (deep-copied). */
  releases?: Array<{ projectKey: string; flagKey: string; release: Release }>
  /**
   * Release pipelines it serves (`GET /api/v2/projects/{projectKey}/release-pipelines/{key}`),
   * per project. A release whose `releasePipelineKey` names a pipeline with
   * `_isLegacy: false` behaves as LaunchDarkly's new pipelines do: the PATCH is refused
   * with 400, and the phase-status PUT accepts only `active` (any case), starting the
   * phase and completing every phase before it. Any other release behaves as a legacy
   * one. Default: `samplePipeline()` (legacy, `standard-rollout`) and
   * `sampleNewPipeline()` (new, `progressive-rollout`) in every project.
   */
  pipelines?: Array<{ projectKey: string; pipeline: ReleasePipeline }>
  /**
   * Rate limits in LaunchDarkly's three families. `limit` requests per route (method and
   * path template) per fixed window of `windowMs` milliseconds (default 10000);
   * `globalLimit` requests per window for the whole account (default 100000); and, when
   * `tokenLimit` is set, that many per `tokenWindowMs` (default 60000) for the access
   * token. Every answer carries `X-Ratelimit-Route-Remaining`,
   * `X-Ratelimit-Global-Remaining` and `X-Ratelimit-Reset` (the route window's end, Unix
   * epoch milliseconds), and with `tokenLimit` `X-Ratelimit-Auth-Token-Limit`,
   * `-Remaining` and `-Reset` (the token window's own end); over any limit it answers
   * 429 `{"code":"rate_limited"}` with those headers.
   */
  rateLimit?: { limit: number; windowMs?: number; globalLimit?: number; tokenLimit?: number; tokenWindowMs?: number }
  /** Answer 403 `forbidden` unless the first `LD-API-Version` header is `beta`, as LaunchDarkly does. Default true. */
  requireBetaHeader?: boolean
  /** How many requests `requests` keeps: the newest. Default 10,000. */
  maxRequests?: number
  /** The largest request body it reads, in bytes; a larger one is answered 413 `request_entity_too_large` and not kept. Default 1 MiB. */
  maxBodyBytes?: number
}

/** A request as the fake received it. */
export interface RecordedRequest {
  /** The method as sent (`POST` for a PATCH sent with `X-HTTP-Method-Override`). */
  method: string
  /** The request target as sent, still percent-encoded, e.g. `/api/v2/flags/p/a%2Fb/release`. */
  path: string
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>
  /** Names and values as received (`req.rawHeaders`), to count repeated headers. */
  rawHeaders: string[]
  /** The body as text; `''` when there was none. */
  body: string
  /** The body parsed, when it was JSON. */
  json?: unknown
  /** When the whole request had arrived (Unix epoch milliseconds). */
  receivedAt: number
}

/**
 * A fault for the next matching request(s), applied before the rate limit, auth and
 * everything else. The first of these that is set decides what happens, after `delayMs`:
 * `stallMs`, `drop`, `malformed`, `oversizeBytes`, `trickleMs`, `status`. A fault with none
 * of them (only `delayMs` and/or `headers`) delays the request, which is then handled
 * normally, with `headers` added to the answer.
 */
export interface Fault {
  /** Which requests it applies to. Omitted: any request. */
  match?: {
    /** The method, e.g. `PATCH`; a POST with `X-HTTP-Method-Override: PATCH` matches `POST` and `PATCH`. */
    method?: string
    /** The percent-decoded route, e.g. `/api/v2/flags/web/new-checkout/release` (no query string). */
    path?: string
  }
  /** How many matching requests it applies to. Default 1. */
  times?: number
  /** Answer this status instead of handling the request. */
  status?: number
  /** The body of a `status` answer: an object is sent as JSON. Default: `{"code": ..., "message": ...}` as LaunchDarkly writes it. */
  body?: string | object
  /** The Content-Type of a `status` answer. Default: `application/json` for an object, `text/html` for a string starting with `<`, else `text/plain`. */
  contentType?: string
  /** Extra response headers, e.g. `{ 'Retry-After': '1' }` or `{ 'X-Ratelimit-Reset': Date.now() + 500 }`. */
  headers?: Record<string, string | number>
  /** Wait this long before answering (then apply the rest of the fault, or handle the request normally). */
  delayMs?: number
  /** Destroy the connection before any answer, or after the headers and part of a release body. */
  drop?: 'before-response' | 'mid-body'
  /** Answer 200 `application/json` with a body that is not JSON. */
  malformed?: boolean
  /** Answer 200 `application/json` streaming a JSON body of this many bytes in chunks, without Content-Length; stops when the client goes away. */
  oversizeBytes?: number
  /** Answer 200 with the release (valid JSON) sent 16 bytes at a time, this many milliseconds apart. */
  trickleMs?: number
  /** Accept the request, send nothing for this long, then close the connection. */
  stallMs?: number
  /**
   * Handle the request first (a write takes effect), then lose its answer as the rest of
   * the fault says: `drop: 'before-response'` closes the connection without it, `status`
   * answers that instead (a 5xx from a proxy), `delayMs` holds it that long (for a
   * client's timeout). To test a client that must not report an applied write as failed.
   */
  applied?: boolean
}

/** A running fake LaunchDarkly, from `startFakeLaunchDarkly`. */
export interface FakeLaunchDarkly {
  /** `http://127.0.0.1:<port>`, without a trailing slash: the base URL for a client. */
  url: string
  /** The port it listens on. */
  port: number
  /** The token it accepts. */
  apiKey: string
  /** The requests received (the newest `maxRequests`), in order, including those answered by faults, 429s and 413s. Options are checked: a bad one throws a TypeError naming it. */
  requests: RecordedRequest[]
  /** How many 429s the rate limit has sent (injected 429 faults are not counted). */
  readonly rateLimited: number
  /** Stores a deep copy of `release` for the flag, replacing any. */
  setRelease(projectKey: string, flagKey: string, release: Release): void
  /** A deep copy of the release it holds for the flag, or `undefined`. */
  getRelease(projectKey: string, flagKey: string): Release | undefined
  /** Removes the flag's release; true if there was one. */
  deleteRelease(projectKey: string, flagKey: string): boolean
  /** Empties `requests` (the same array). */
  clearRequests(): void
  /** Queues a fault; each request consumes the first queued fault that matches it. */
  injectFault(fault: Fault): void
  /** Stops listening and closes every open connection. Safe to call more than once. */
  close(): Promise<void>
}

/**
 * Starts a fake LaunchDarkly on 127.0.0.1 serving the releases-beta endpoints and the
 * release-pipelines ones: list (`limit` 1–100, default 20, and `offset`), create (at most
 * 20 per project; 409 for a key in use), get, update, delete (not the project default),
 * and the release progressions of a pipeline (one item per flag whose release is in it,
 * `activePhaseId` its first incomplete phase; paged, with LaunchDarkly's filter
 * `status equals "active",activePhaseId equals "<id>"`).
 */
export declare function startFakeLaunchDarkly(options?: FakeOptions): Promise<FakeLaunchDarkly>

/** A release pipeline, as `GET .../release-pipelines/{key}` answers it (the fields the fake uses). */
export interface ReleasePipeline {
  key: string
  name: string
  description?: string
  /** ISO-8601, e.g. `2025-09-16T22:01:04.602697Z` */
  createdAt?: string
  /** Phase `id`s are the `_id`s of the matching phases in each release. */
  phases: Array<{ id: string; name: string; audiences?: Array<Record<string, unknown>> }>
  /** `false` for the new kind of pipeline */
  _isLegacy?: boolean
  isProjectDefault?: boolean
  [field: string]: unknown
}

/**
 * A release of a new (non-legacy) pipeline, shaped as LaunchDarkly answers it: the first
 * phase `active`, the other two sparse (`not-started`, no `_creationDate`, no
 * `_audiences`), environments without `_links`, no `_links` on the release, `_version`
 * 0. Its pipeline is `progressive-rollout`. `overrides` are merged shallowly.
 */
export declare function sampleNewPipelineRelease(overrides?: Partial<Release>): Release

/**
 * The releases `ld-release fake` serves and the README's examples use, all in project
 * `web`: `new-checkout`, `dark-mode` and `search-v2` in the legacy pipeline
 * `standard-rollout` (`sampleRelease()`), `progressive-checkout` and `progressive-search`
 * in the new pipeline `progressive-rollout` (`sampleNewPipelineRelease()`). A fresh copy
 * at each call, in the shape `FakeOptions.releases` takes.
 */
export declare function sampleReleases(): Array<{ projectKey: string; flagKey: string; release: Release }>

/** The legacy pipeline of `sampleRelease()`: `standard-rollout`, `_isLegacy: true`. */
export declare function samplePipeline(overrides?: Partial<ReleasePipeline>): ReleasePipeline

/** The new pipeline of `sampleNewPipelineRelease()`: `progressive-rollout`, `_isLegacy: false`. */
export declare function sampleNewPipeline(overrides?: Partial<ReleasePipeline>): ReleasePipeline

/**
 * A realistic release of a legacy three-phase pipeline (Testing: started; Staging and
 * Production: not started), with fixed ids and timestamps. `overrides` are merged shallowly.
 */
export declare function sampleRelease(overrides?: Partial<Release>): Release

export type { PatchOperation, Release, ReleasePhase }

// ---- Environment releases, release policies and flags (testing/environments.js) ----------
//
// The fake serves LaunchDarkly's environment releases (beta) and release policies (beta) of
// spec v25, and `GET /api/v2/flags/{projectKey}/{flagKey}` (not beta). Every project starts
// with the sample data: context kinds `user`, `organization`, `device` (and the archived
// `legacy-account`); environments `test`, `staging`, `production`; the boolean flags
// `new-checkout` (on everywhere; in production, the rule "Beta testers" with the `kind`
// clause for `user`) and `progressive-checkout`, and the multivariate `checkout-layout`
// (`classic`, `compact`, `wide`; off in production); the metrics `checkout-errors` and
// `checkout-latency` (numeric) and the metric group `checkout-health`; and the release
// policies `production-guarded` (scoped to production, rank 1) and `default` (no scope,
// rank 0). Variation ids are UUIDs, the same in every run.
//
// Releases move on the fake's clock (`now()`, `advance(ms)`): it stands still unless
// advanced, or runs at `clock.speed` times real time. Times in answers are Unix ms of
// that clock, and so is their `Date` header (a server's Date is its own clock's), which
// is how `watchEnvironmentRelease` follows it. A start is answered 201 and begins its
// first phase at once (after `releasePendingMs`); each step lasts its `durationMillis`; a phase whose last step ends
// completes (`completed_automatic`), then the next phase starts (`automatic`) or the
// release waits with `waiting_phase_ended` and `currentPhaseIndex: null` (`manual`) until
// `continueRelease`, a control of the fake only: the API has no advance call.

/** A release health check, as `bypassHealthChecks` and `failingChecks[].kind` name them. */
export type FakeHealthCheckKind = 'flag_evaluations_any' | 'flag_evaluations_with_context' | 'metric_events_any' | 'metric_events_with_context'

/** A flag to add with `flags` or `setFlag`: every environment not given is off. */
export interface FakeFlagInput {
  key: string
  name?: string
  /** Default: `boolean` for two boolean values, else `multivariate`. */
  kind?: 'boolean' | 'multivariate'
  /** At least two. `_id` defaults to a UUID derived from the flag key and the index. */
  variations: Array<{ _id?: string; value: unknown; name?: string }>
  /**
   * Per environment key: on or off (default off), what it serves (indexes into `variations`;
   * default the last), its rules (objects; `clauses`, if given, an array of objects; `[]`
   * when left out; `_id` a UUID when left out). Anything else throws a TypeError.
   */
  environments?: Record<string, { on?: boolean; fallthrough?: { variation: number }; offVariation?: number; rules?: Array<Record<string, unknown>> }>
  tags?: string[]
  description?: string
}

/**
 * A flag as `GET /api/v2/flags/{projectKey}/{flagKey}` answers it (LaunchDarkly's
 * `FeatureFlag`, the fields the fake fills in). A rule a release drives serves what its
 * phase serves now: a `rollout` (weights in thousandths of a percent) while the phase runs,
 * the target `variation` once completed, the original once reverted; a pending phase's rule
 * has `disabled: true`.
 */
export interface FakeFlag {
  key: string
  name: string
  kind: 'boolean' | 'multivariate'
  variations: Array<{ _id: string; value: unknown; name?: string }>
  environments: Record<string, { on: boolean; fallthrough: { variation: number }; offVariation: number; rules: Array<Record<string, unknown>>; [field: string]: unknown }>
  [field: string]: unknown
}

/** An environment release as the fake answers it (LaunchDarkly's `EnvironmentRelease`). */
export interface FakeEnvironmentRelease {
  id: string
  status: 'pending' | 'in_progress' | 'waiting' | 'completed' | 'reverted'
  statusReason: string | null
  projectKey: string
  environmentKey: string
  flagKey: string
  kind: 'progressive' | 'guarded'
  advancementMode: 'manual' | 'automatic'
  currentPhaseIndex: number | null
  createdAt: number
  startedAt?: number
  endedAt?: number
  metrics: Array<{ metricKey: string; metricVersionId?: string; autoRollback: boolean }>
  phases: Array<{
    id: string
    phaseIndex: number
    ruleId: string | null
    status: 'pending' | 'in_progress' | 'waiting' | 'completed' | 'reverted'
    statusReason: string | null
    currentStepIndex?: number
    startedAt: number | null
    endedAt: number | null
    /** `allocation` in thousandths of a percent. */
    steps: Array<{ stepIndex: number; allocation: number; durationMillis: number; startedAt: number | null; endedAt: number | null }>
    metricStatuses: Record<string, 'ok' | 'regressed' | 'regression_dismissed'>
  }>
  [field: string]: unknown
}

/** An environment release plan, for `releasePlans`: what a start with `releasePlanKey` uses. */
export interface FakeReleasePlan {
  key: string
  randomizationUnit: string
  /** As `StartEnvironmentReleaseRequest.phases`. */
  phases: Array<Record<string, unknown>>
  /** Metrics, or `{ metricGroupKey, autoRollback? }` entries expanded through `metricGroups`. */
  metrics?: Array<{ metricKey?: string; metricGroupKey?: string; autoRollback?: boolean }>
  metricGroups?: Record<string, string[]>
  advancementMode?: 'manual' | 'automatic'
  cleanupBehavior?: 'remove_rules_and_update_default_rule' | 'leave_rules_in_place'
}

export interface FakeOptions {
  /**
   * The clock of environment releases. `start`: its time at start (Unix ms; default the real
   * time). `speed`: how many fake milliseconds pass per real one (default 0: it moves only
   * with `advance`; `ld-release fake` uses 1, or `--speed`).
   */
  clock?: { start?: number; speed?: number }
  /** How long a started release stays `pending` before its first phase starts. Default 0. */
  releasePendingMs?: number
  /** Flags to add to (or replace in) the sample data, per project. */
  flags?: Array<{ projectKey: string; flag: FakeFlagInput }>
  /** Environments that require approvals: a start or a stop there is refused with 405. */
  approvalsRequired?: Array<{ projectKey: string; environmentKey: string }>
  /** Health checks that fail for every start (400 `health_checks_failed` unless listed in `bypassHealthChecks`). Metric checks apply to guarded releases only. A kind not in the list throws a TypeError. */
  failingHealthChecks?: FakeHealthCheckKind[]
  /**
   * Environment release plans. Without this option a start with `releasePlanKey` is 422
   * (plans not yet available for the account), as for accounts today; with it (even `[]`),
   * the plan named is used (400 when it is missing or the request also sets what it supplies).
   */
  releasePlans?: Array<{ projectKey: string; environmentKey: string; plan: FakeReleasePlan }>
}

export interface FakeLaunchDarkly {
  /**
   * The next `times` (default 1) starts that succeed take effect (the release is created
   * and runs), but their answer is lost: `drop` closes the connection without an answer (a
   * reset after sending), `status` answers that status instead (a 5xx from a proxy), and
   * `delayMs` holds the answer that long first (for a client's timeout). To test a client
   * that must not send a start twice.
   */
  failStartAnswer(fault: { drop?: boolean; status?: number; delayMs?: number; times?: number }): void
  /** The fake clock's time, Unix ms. */
  now(): number
  /** Moves the fake clock forward by `ms` (every step, phase and release due moves, at the times they were due); returns the new time. */
  advance(ms: number): number
  /** A release as the GET answers it (also one ended over 90 days ago). Throws for an unknown id. */
  getEnvironmentRelease(releaseId: string): FakeEnvironmentRelease
  /**
   * Starts the next phase of a manual release that waits with `waiting_phase_ended`, as a
   * person would in LaunchDarkly (the API has no call for it). Throws if it is not waiting so.
   */
  continueRelease(releaseId: string): FakeEnvironmentRelease
  /**
   * Reports a regression on a metric of the running phase (status `regressed`). With the
   * metric's `autoRollback`, the phase and the release revert (`reverted_regression_detected`)
   * and pending phases are discarded; otherwise the release and the phase wait
   * (`waiting_regression_detected`) and its step's clock stops until `dismissRegression`.
   */
  reportRegression(releaseId: string, metricKey: string): FakeEnvironmentRelease
  /** Dismisses a regression (`regression_dismissed`); with none left, the release runs on from where it stopped. */
  dismissRegression(releaseId: string, metricKey: string): FakeEnvironmentRelease
  /** Sets the failing health checks for starts matching `where` (omitted keys: any); `[]` clears them. */
  setHealthChecks(failing: FakeHealthCheckKind[], where?: { projectKey?: string; flagKey?: string; environmentKey?: string }): void
  /** Makes an environment require approvals (405 on start and stop), or not. */
  setApprovalsRequired(projectKey: string, environmentKey: string, required?: boolean): void
  /** Turns a flag on or off in an environment; turning it off discards its running release (`reverted_discarded`). */
  setFlagOn(projectKey: string, flagKey: string, environmentKey: string, on: boolean): void
  /** Adds or replaces a flag; returns it as the GET answers it. */
  setFlag(projectKey: string, flag: FakeFlagInput): FakeFlag
  /** A flag as the GET answers it, or `undefined`. */
  getFlag(projectKey: string, flagKey: string): FakeFlag | undefined
}
