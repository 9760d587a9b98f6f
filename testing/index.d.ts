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
   * A limit of `limit` requests per route (method and path template) per fixed window of
   * `windowMs` milliseconds (default 10000). Every answer on a limited route carries
   * `X-Ratelimit-Route-Remaining`, `X-Ratelimit-Global-Remaining` (the same count) and
   * `X-Ratelimit-Reset` (the window's end, Unix epoch milliseconds); over the limit it
   * answers 429 `{"code":"rate_limited"}` with those headers.
   */
  rateLimit?: { limit: number; windowMs?: number }
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
