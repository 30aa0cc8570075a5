import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeFailure, storeError } from "../../src/repository/s3/errors.js";

const where = {
  location: "s3://acme/lifeline",
  bucket: "acme",
  endpoint: "https://minio.internal:9000",
  region: "eu-west-1",
};
const as = (name: string, status?: number, message = "the store's message") =>
  storeError({ name, status, message }, where, "cannot list s3://acme/lifeline");

describe("store errors name the problem and the fix", () => {
  it("each failure of the store gets its code, its problem and its fix", () => {
    const cases: [string, number | undefined, string, RegExp, RegExp][] = [
      ["NoSuchBucket", 404, "STORE_BUCKET_MISSING", /bucket acme does not exist/, /create it/],
      ["AccessDenied", 403, "STORE_ACCESS_DENIED", /was denied \(AccessDenied\)/, /credentials/],
      ["InvalidAccessKeyId", 403, "STORE_ACCESS_DENIED", /was denied/, /AWS_ACCESS_KEY_ID/],
      ["SignatureDoesNotMatch", 403, "STORE_ACCESS_DENIED", /was denied/, /credentials/],
      ["CredentialsProviderError", undefined, "STORE_ACCESS_DENIED", /was denied/, /AWS_PROFILE/],
      [
        "AuthorizationHeaderMalformed",
        400,
        "STORE_WRONG_REGION",
        /not in region eu-west-1/,
        /repository\.region/,
      ],
      ["PermanentRedirect", 301, "STORE_WRONG_REGION", /not in region/, /repository\.region/],
      ["RequestTimeTooSkewed", 403, "STORE_CLOCK_SKEW", /clock/, /synchronise the clock/],
      ["SlowDown", 503, "STORE_THROTTLED", /too many/, /again later/],
      [
        "ECONNREFUSED",
        undefined,
        "STORE_UNREACHABLE",
        /cannot reach https:\/\/minio\.internal:9000/,
        /repository\.endpoint/,
      ],
      [
        "TimeoutError",
        undefined,
        "STORE_UNREACHABLE",
        /https:\/\/minio\.internal:9000 did not answer in time/,
        /LIFELINE_S3_REQUEST_TIMEOUT_MS/,
      ],
      ["InternalError", 500, "STORE_FAILED", /answered InternalError \(HTTP 500\)/, /again/],
    ];
    for (const [name, status, code, problem, fix] of cases) {
      const error = as(name, status);
      assert.equal(error.code, code, name);
      assert.match(error.message, problem, name);
      assert.match(error.fix ?? "", fix, name);
      assert.match(error.message, /^cannot list s3:\/\/acme\/lifeline: /, name);
    }
  });

  it("the store's own message never reaches the user (it may echo a request)", () => {
    const error = as("AccessDenied", 403, "denied for AKIAEXAMPLE with secret wJalrXUtnFEMI");
    assert.doesNotMatch(error.message + (error.fix ?? ""), /AKIAEXAMPLE|wJalrXUtnFEMI/);
  });

  it("reads the SDK's error shape and Node's errno codes", () => {
    assert.deepEqual(
      describeFailure(
        Object.assign(new Error("x"), { name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }),
      ),
      {
        name: "NoSuchKey",
        status: 404,
        message: "x",
      },
    );
    assert.equal(
      describeFailure(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).name,
      "ECONNREFUSED",
    );
  });
});
