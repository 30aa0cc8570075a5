import type { DrillReport } from "../../core/drill/drill.js";
import { formatBytes, formatDuration } from "../../core/duration.js";
import type { AssetRecovery } from "../../app/status.js";
import type { Posture } from "../../core/posture/posture.js";
import { totalArtifactBytes, type Manifest } from "../../core/restore-point/restore-point.js";
import type { CheckResult } from "../../ports/repository.js";
import { count, table } from "../io.js";

/** "2 tables (2,500 rows), 1 sequence, 9 schema objects" */
function contents(m: Manifest, rows: number): string {
  return `${count(m.fingerprints.tables.length, "table")} (${count(rows, "row")}), ${count(m.fingerprints.sequences.length, "sequence")}, ${count(m.fingerprints.schema.objects.length, "schema object")}`;
}

export function backupJson(m: Manifest) {
  return {
    restorePoint: {
      id: m.id,
      asset: m.asset,
      snapshotTime: m.snapshotTime,
      tables: m.fingerprints.tables.length,
      rows: m.fingerprints.tables.reduce((s, t) => s + t.rows, 0),
      sequences: m.fingerprints.sequences.length,
      bytes: totalArtifactBytes(m),
      artifacts: m.artifacts.length,
      databaseBytes: m.source.databaseBytes,
      serverVersion: m.source.serverVersion,
      tools: m.tools,
      durations: m.durations,
      verified: false,
    },
  };
}

export function renderBackup(m: Manifest): string {
  const rows = m.fingerprints.tables.reduce((s, t) => s + t.rows, 0);
  return [
    `✓ restore point ${m.id} of ${m.asset}`,
    `  snapshot   ${m.snapshotTime} (PostgreSQL ${m.source.serverVersion}, pg_dump ${m.tools.pg_dump ?? "?"})`,
    `  contents   ${contents(m, rows)} fingerprinted`,
    `  size       ${formatBytes(totalArtifactBytes(m))} in ${count(m.artifacts.length, "file")} (database ${formatBytes(m.source.databaseBytes)})`,
    `  took       ${m.durations.totalSeconds}s (dump ${m.durations.dumpSeconds}s, fingerprints ${m.durations.fingerprintSeconds}s alongside)`,
    `  not verified yet: \`lifeline drill ${m.asset}\` proves it restores`,
  ].join("\n");
}

export function drillJson(r: DrillReport) {
  return {
    drill: {
      id: r.id,
      asset: r.asset,
      restorePointId: r.restorePointId,
      result: r.result,
      failure: r.failure,
      restoreSeconds: r.restoreSeconds,
      verifySeconds: r.verifySeconds,
      scratch: r.scratch,
      tools: r.tools,
      mismatches: r.mismatches,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    },
  };
}

export function renderDrill(r: DrillReport, m: Manifest | undefined): string {
  const where = `${r.scratch.kind} PostgreSQL ${r.scratch.serverVersion ?? ""}`.trim();
  if (r.result === "passed") {
    const rows = m ? m.fingerprints.tables.reduce((s, t) => s + t.rows, 0) : 0;
    return [
      `✓ drill passed: restore point ${r.restorePointId} of ${r.asset} restores`,
      `  restored   into a scratch ${where} in ${r.restoreSeconds}s, verified in ${r.verifySeconds}s`,
      m ? `  compared   ${contents(m, rows)}: identical` : "",
      `  this restore point is now verified; the scratch copy was removed`,
    ]
      .filter(Boolean)
      .join("\n");
  }
  const lines = [
    `✗ drill FAILED: restore point ${r.restorePointId} of ${r.asset} did not restore as recorded`,
  ];
  if (r.failure)
    lines.push(...r.failure.message.split("\n").map((l, i) => (i === 0 ? `  ${l}` : `    ${l}`)));
  const shown = r.mismatches.slice(0, 20);
  for (const mm of shown) lines.push(`  - ${mm.message}`);
  if (r.mismatches.length > shown.length)
    lines.push(`  … and ${r.mismatches.length - shown.length} more (see --json)`);
  lines.push("  this restore point is NOT verified; the report is kept in the repository");
  return lines.join("\n");
}

/**
 * Recovery state per asset: a map when the catalog was read (or there is none yet), null when it
 * could not be read (unknown), undefined when the caller does not show it (the demo).
 */
export type RecoveryView = ReadonlyMap<string, AssetRecovery> | null | undefined;

export function statusJson(postures: readonly Posture[], recovery?: RecoveryView) {
  if (recovery === undefined) return { assets: postures };
  return {
    assets: postures.map((p) => {
      const r = recovery?.get(p.name);
      return {
        ...p,
        standbys: recovery === null ? null : (r?.standbys ?? []),
        previousDatabases: recovery === null ? null : (r?.previousDatabases ?? []),
        lastRestore: r?.lastRestore ?? null,
      };
    }),
  };
}

/** "42s (drill) · last restore 38s": the drill's RTO and, when there was one, a real restore's. */
function rto(p: Posture, r: AssetRecovery | undefined): string {
  const drill = p.rtoSeconds === null ? "—" : formatDuration(p.rtoSeconds);
  if (!r?.lastRestore) return drill;
  return `${drill} (drill) · last restore ${formatDuration(r.lastRestore.seconds)}`;
}

function since(now: Date, iso: string): string {
  return ago(Math.max(0, (now.getTime() - Date.parse(iso)) / 1000));
}

/** One line per standby and per previous database an in-place restore kept. */
function recoveryLines(p: Posture, r: AssetRecovery | undefined, now: Date): string[] {
  if (!r) return [];
  const lines: string[] = [];
  for (const s of r.standbys) {
    lines.push(
      `  ${p.name}: standby ${s.target} (read-only) serves ${s.restorePointId}, snapshot ${s.ageSeconds === null ? "of unknown age" : ago(s.ageSeconds)}; restored ${since(now, s.since)} (refresh: lifeline standby ${p.name} --refresh${r.standbys.length > 1 ? ` --to ${s.target}` : ""})`,
    );
  }
  for (const d of r.previousDatabases) {
    lines.push(
      `  ${p.name}: previous database ${d.database} kept since ${since(now, d.since)} at ${d.target} (replaced by restore point ${d.restorePointId}); discard it: ${d.discard}`,
    );
  }
  return lines;
}

function ago(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? "—" : `${formatDuration(seconds)} ago`;
}

export function renderStatus(
  postures: readonly Posture[],
  recovery?: RecoveryView,
  now: Date = new Date(),
): string {
  const rows: string[][] = [
    ["ASSET", "TIER", "NEWEST", "VERIFIED (RPO)", "TARGET", "RTO", "DB SIZE", "CHANGES NOT COVERED"],
  ];
  for (const p of postures) {
    const verified = p.newestVerifiedRestorePoint
      ? `${ago(p.rpoSeconds)} ${p.rpoMet ? "✓" : "✗ over target"}`
      : "none ✗";
    const changes = p.changesNotCovered
      ? `${count(p.changesNotCovered.rows, "row")}${p.changesNotCovered.countersReset ? " (at least; counters reset)" : ""}`
      : p.liveError
        ? "unknown (unreachable)"
        : "—";
    // A damaged restore point newer than every usable one is what the NEWEST column shows (risks say more).
    const damaged = p.damagedRestorePoints[0];
    const newestDamaged = damaged && (!p.newestRestorePoint || damaged.id > p.newestRestorePoint.id);
    rows.push([
      p.name,
      p.tier,
      newestDamaged ? "DAMAGED ✗" : ago(p.newestRestorePoint?.ageSeconds),
      verified,
      formatDuration(p.rpoTargetSeconds),
      rto(p, recovery?.get(p.name)),
      p.databaseBytes === null ? "?" : formatBytes(p.databaseBytes),
      changes,
    ]);
  }
  const lines = [table(rows)];
  for (const p of postures) for (const risk of p.risks) lines.push(`  ! ${p.name}: ${risk}`);
  for (const p of postures) for (const note of p.notes ?? []) lines.push(`  note: ${p.name}: ${note}`);
  for (const p of postures) lines.push(...recoveryLines(p, recovery?.get(p.name), now));
  if (recovery === null)
    lines.push("  standbys and previous databases: unknown (the catalog could not be read)");
  return lines.join("\n");
}

export function checkJson(location: string, result: CheckResult) {
  return {
    ok: result.findings.length === 0,
    repository: location,
    restorePoints: result.restorePoints,
    drillReports: result.drillReports,
    findings: result.findings,
    notes: result.notes,
  };
}

export function renderCheck(location: string, result: CheckResult): string {
  const lines: string[] = [];
  if (result.findings.length === 0) {
    lines.push(
      `✓ repository ${location}: ${count(result.restorePoints, "restore point")}, ${count(result.drillReports, "drill report")}; every manifest parses and every artifact matches its size and sha256`,
    );
  } else {
    lines.push(`✗ repository ${location}: ${count(result.findings.length, "problem")}`);
    for (const f of result.findings) lines.push(`  - ${f.message}`);
  }
  for (const note of result.notes) lines.push(`  note: ${note}`);
  return lines.join("\n");
}
