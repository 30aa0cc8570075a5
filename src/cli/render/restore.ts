import type { RestoreOutcome } from "../../app/restore.js";
import type { RestoreResult } from "../../core/restore/restore.js";
import { count } from "../io.js";
import { renderRun, runJson } from "./run.js";

/** `--json`: {"restore": RestoreResult} (with the gate's run when it went through it). */
export function restoreJson(outcome: RestoreOutcome) {
  switch (outcome.status) {
    case "restored":
      return { restore: outcome.result, ...(outcome.gate ? { run: runJson(outcome.gate) } : {}) };
    case "discarded":
      return { discard: outcome.discarded, ...(outcome.gate ? { run: runJson(outcome.gate) } : {}) };
    case "gated":
      return { restore: null, run: runJson(outcome.gate) };
    case "dry-run":
      return { restore: null, dryRun: outcome.what };
  }
}

function mismatchLines(result: RestoreResult): string[] {
  return result.mismatches.map((m) => `    ✗ ${m.object}: ${m.message}`);
}

export function renderRestoreResult(result: RestoreResult): string {
  const head = result.verified
    ? `✓ restored restore point ${result.restorePointId} of ${result.asset} into ${result.target}: verified`
    : `✗ restored restore point ${result.restorePointId} of ${result.asset} into ${result.target}: NOT verified`;
  const lines = [head];
  if (result.unverifiedSource)
    lines.push(`  ! restore point ${result.restorePointId} was never proven by a drill (--unverified)`);
  lines.push(
    `  mode       ${result.mode}`,
    `  tables     ${count(result.tables.length, "table")}, ${count(result.rows, "row")}${result.tables.length > 0 && result.tables.length <= 10 ? `: ${result.tables.join(", ")}` : ""}`,
    `  took       restore ${result.restoreSeconds}s, verify ${result.verifySeconds}s`,
    `  verified   ${result.verified ? "yes: every restored table matches the restore point's fingerprints" : "NO"}`,
  );
  if (!result.verified) lines.push(...mismatchLines(result));
  if (result.swap)
    lines.push(
      `  swap       unavailable ${result.swap.unavailableMs} ms, ${count(result.swap.terminated, "client connection")} terminated`,
    );
  if (result.previous) {
    lines.push(
      `  previous   the database as it was is kept as ${result.previous.database} (${result.previous.target})`,
      `             discard it when you no longer need it: lifeline restore ${result.asset} --discard-previous`,
    );
  }
  if (result.removedLeftovers.length > 0)
    lines.push(`  removed    staging copies of killed restores: ${result.removedLeftovers.join(", ")}`);
  if (result.foreignKeys.length > 0) {
    lines.push(
      "",
      // Not "once it is there": often the other table is there, only not restored (or the key does
      // not hold yet); each line says which.
      "Foreign keys not restored; each with why, and the statement that adds it:",
    );
    for (const fk of result.foreignKeys) {
      lines.push(`  - ${fk.name} on ${fk.table} → ${fk.references}: ${fk.why}`);
      lines.push(
        ...fk.definition
          .split("\n")
          .map((l) => l.trim())
          // Only the statement: no blank lines, no psql meta-command a dump may carry (\\unrestrict).
          .filter((l) => l !== "" && !l.startsWith("\\"))
          .map((l) => `      ${l}`),
      );
    }
  }
  return lines.join("\n");
}

export function renderRestore(outcome: RestoreOutcome): string {
  switch (outcome.status) {
    case "restored":
      return [...(outcome.gate ? [renderRun(outcome.gate)] : []), renderRestoreResult(outcome.result)].join(
        "\n",
      );
    case "discarded": {
      const d = outcome.discarded;
      const lines = outcome.gate ? [renderRun(outcome.gate)] : [];
      lines.push(
        d.alreadyGone
          ? `✓ ${d.database} no longer exists; it is no longer listed as ${d.asset}'s previous database`
          : `✓ dropped ${d.database} (${d.target}), the database ${d.asset} had before the in-place restore from ${d.restorePointId}`,
      );
      if (d.remaining.length > 0)
        lines.push(
          `  still kept: ${d.remaining.join(", ")} (run lifeline restore ${d.asset} --discard-previous again)`,
        );
      return lines.join("\n");
    }
    case "gated":
      return renderRun(outcome.gate);
    case "dry-run":
      return `DRY RUN: everything checked; ${outcome.what}. Nothing was touched.`;
  }
}
