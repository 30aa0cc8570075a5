import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assetMetrics } from "../../src/serve/asset-metrics.js";

describe("/metrics' per-asset gauges when the status cannot be computed", () => {
  it("serves the rest, with lifeline_status_readable 0, says why, and tries again at the next scrape", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    let fail = true;
    const metrics = assetMetrics(
      async () => {
        calls++;
        if (fail) throw new Error("EISDIR: the repository path is a file");
        return { postures: [], alerts: [], queueDepth: new Map() };
      },
      60_000,
      (error) => errors.push(error),
    );
    metrics.observe({
      type: "failed",
      request: { kind: "backup", asset: "shop" },
      attempt: 1,
      maxAttempts: 3,
      error: "pg_dump failed",
    } as unknown as Parameters<typeof metrics.observe>[0]);
    const text = await metrics.registry.metrics();
    assert.match(text, /^lifeline_status_readable 0$/m);
    assert.doesNotMatch(text, /^lifeline_rpo_met\{/m);
    // The counters of this server's jobs are still there.
    assert.match(text, /^lifeline_backup_failures_total\{asset="shop"\} 1$/m);
    assert.equal(errors.length, 1, "one failure, told once for the whole scrape");
    assert.match(String(errors[0]), /EISDIR/);

    // A failure is not cached (the cache is a minute here): the next scrape computes again.
    fail = false;
    const again = await metrics.registry.metrics();
    assert.match(again, /^lifeline_status_readable 1$/m);
    assert.equal(calls, 2);
  });
});
