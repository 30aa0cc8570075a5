/**
 * What the object store said, as a LifelineError that names the problem and the fix. The SDK's
 * error carries no credentials (the request's signature is not in its message); the message here
 * is built from its name and status only, never from the request.
 */
import { LifelineError, type ErrorCode } from "../../core/errors.js";

export interface StoreFailure {
  /** The SDK error's name (S3 error code) or Node's errno code. */
  name: string;
  status: number | undefined;
  message: string;
}

export function describeFailure(error: unknown): StoreFailure {
  const e = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const code = typeof e.code === "string" ? e.code : undefined;
  const name = typeof e.name === "string" && e.name !== "Error" ? e.name : (code ?? "Error");
  return {
    name,
    status: e.$metadata?.httpStatusCode,
    message: typeof e.message === "string" ? e.message : String(error),
  };
}

const UNREACHABLE =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|TimeoutError|RequestTimeout)$/;

/** Pure: the failure, where (bucket, endpoint) and what lifeline was doing → the error to show. */
export function storeError(
  failure: StoreFailure,
  where: {
    location: string;
    bucket: string;
    endpoint: string | undefined;
    region: string;
    timeouts?: { connectMs: number; requestMs: number };
  },
  doing: string,
): LifelineError {
  const at = `${where.location}${where.endpoint ? ` (endpoint ${where.endpoint})` : ""}`;
  const make = (code: ErrorCode, problem: string, fix: string, kind: "runtime" | "config" = "runtime") =>
    new LifelineError({ code, kind, message: `${doing}: ${problem}`, fix });
  const { name, status } = failure;
  if (name === "NoSuchBucket")
    return make(
      "STORE_BUCKET_MISSING",
      `the bucket ${where.bucket} does not exist at ${where.endpoint ?? "AWS S3"}`,
      `create it (aws s3 mb s3://${where.bucket}), or correct repository.url / repository.endpoint in lifeline.yaml`,
      "config",
    );
  if (
    name === "AuthorizationHeaderMalformed" ||
    name === "PermanentRedirect" ||
    name === "IllegalLocationConstraintException" ||
    (status === 301 && name !== "NotModified")
  )
    return make(
      "STORE_WRONG_REGION",
      `the bucket ${where.bucket} is not in region ${where.region} (${name})`,
      "set repository.region in lifeline.yaml (or AWS_REGION) to the bucket's region",
      "config",
    );
  if (name === "RequestTimeTooSkewed")
    return make(
      "STORE_CLOCK_SKEW",
      "this machine's clock differs from the store's by more than 15 minutes, so it refuses the signed requests",
      "synchronise the clock (e.g. `timedatectl set-ntp true` or chrony), then run the command again",
    );
  if (
    name === "AccessDenied" ||
    name === "InvalidAccessKeyId" ||
    name === "SignatureDoesNotMatch" ||
    name === "CredentialsProviderError" ||
    name === "ExpiredToken" ||
    name === "InvalidToken" ||
    status === 403
  )
    return make(
      "STORE_ACCESS_DENIED",
      `access to ${at} was denied (${name})`,
      name === "CredentialsProviderError"
        ? "give credentials the usual AWS way: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance/pod role"
        : `check the credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE) and that they may list, read, write and delete under ${where.location}`,
    );
  if (
    name === "SlowDown" ||
    name === "Throttling" ||
    name === "ThrottlingException" ||
    status === 429 ||
    status === 503
  )
    return make(
      "STORE_THROTTLED",
      `the store kept refusing requests as too many (${name}) after lifeline retried`,
      "run the command again later, or lower backup.jobs; a prefix of its own for lifeline spreads the load",
    );
  if (name === "TimeoutError" || name === "ETIMEDOUT")
    return make(
      "STORE_UNREACHABLE",
      `${where.endpoint ?? "AWS S3"} did not answer in time (${where.timeouts ? `connection ${where.timeouts.connectMs / 1000} s, request ${where.timeouts.requestMs / 1000} s, ` : ""}after retries)`,
      "check repository.endpoint in lifeline.yaml, the network and any proxy, then run the command again; a slow store may need more time: LIFELINE_S3_CONNECT_TIMEOUT_MS / LIFELINE_S3_REQUEST_TIMEOUT_MS",
    );
  if (UNREACHABLE.test(name) || /connect|socket hang up|getaddrinfo/i.test(failure.message))
    return make(
      "STORE_UNREACHABLE",
      `cannot reach ${where.endpoint ?? "AWS S3"} (${name})`,
      "check repository.endpoint in lifeline.yaml, the network and any proxy, then run the command again",
    );
  return make(
    "STORE_FAILED",
    `${at} answered ${name}${status ? ` (HTTP ${status})` : ""}`,
    "run the command again; if it persists, check the store's logs",
  );
}
