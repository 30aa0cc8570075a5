/**
 * Every failure lifeline reports is a LifelineError: a stable code, a message that says what went
 * wrong, and a fix that says what to do. The CLI maps the kind to an exit code; nothing below the
 * CLI calls process.exit.
 */
/**
 * Every error code lifeline reports (stable: scripts and the audit log match on them). A new
 * failure gets its code here; LifelineError takes no other.
 */
export const ERROR_CODES = [
  "APPROVAL_REVOKED",
  "APPROVAL_UNKNOWN",
  "ARCHIVE_UNREADABLE",
  "ARTIFACT_CORRUPT",
  "ASSET_NOT_BOUND",
  "ASSET_UNKNOWN",
  "BACKUP_FAILED",
  "BINDING_EMPTY",
  "BREAK_GLASS_ENDED",
  "BREAK_GLASS_UNKNOWN",
  "CATALOG_AUDIT_HEAD_MISSING",
  "CATALOG_BUSY",
  "CATALOG_FAILED",
  "CATALOG_MIGRATION_FAILED",
  "CATALOG_NOT_SQLITE",
  "CATALOG_ROW_DAMAGED",
  "CATALOG_TOO_NEW",
  "CATALOG_UNAVAILABLE",
  "CATALOG_UNREACHABLE",
  "CLUSTER_UNREACHABLE",
  "CLUSTER_UNREADABLE",
  "COMMAND_NOT_FOUND",
  "CONFIG_EXISTS",
  "CONFIG_INVALID",
  "CONFIG_NOT_FOUND",
  "CONFIG_UNREADABLE",
  "DB_AUTH_FAILED",
  "DB_ERROR",
  "DB_NOT_FOUND",
  "DB_UNREACHABLE",
  "DEMO_CLUSTER_FAILED",
  "DISK_FULL",
  "ENGINE_UNSUPPORTED",
  "EXECUTION_FAILED",
  "GUARD_INSTALL_FAILED",
  "GUARD_NEEDS_SUPERUSER",
  "GUARD_NOT_INSTALLED",
  "GUARD_UNSUPPORTED",
  "ID_PREFIX_AMBIGUOUS",
  "ID_PREFIX_TOO_SHORT",
  "INTERNAL",
  "INTERRUPTED",
  "K8S_PATCH_DENIED",
  "K8S_PATCH_FAILED",
  "K8S_CREATE_FAILED",
  "K8S_OTHER_INSTALL",
  "K8S_INSTALL_TLS_MISMATCH",
  "K8S_READ_FAILED",
  "KUBECONFIG_INVALID",
  "KUBECONFIG_NOT_FOUND",
  "KUBE_CONTEXT_NOT_FOUND",
  "MANIFEST_INVALID",
  "MANIFEST_NOT_FOUND",
  "NAMESPACE_UNKNOWN",
  "NOT_CONFIRMED",
  "NO_PREVIOUS_DATABASE",
  "NO_RESTORE_POINT",
  "NO_STANDBY",
  "NO_STATE",
  "PLAN_EMPTY",
  "PLAN_NOT_VOUCHED",
  "PLAN_UNKNOWN",
  "PLAN_UNSUPPORTED",
  "PREPARE_DRILL_FAILED",
  "REPOSITORY_ENCRYPTION",
  "REPOSITORY_EXISTS",
  "REPOSITORY_MISSING",
  "REPOSITORY_NOT_A_DIRECTORY",
  "REPOSITORY_NOT_WRITABLE",
  "REPOSITORY_OBJECT_LOCK",
  "REPOSITORY_PASSPHRASE_WRONG",
  "REPOSITORY_READ_ONLY",
  "RESTORE_BUSY",
  "RESTORE_CANNOT_CREATE",
  "RESTORE_FAILED",
  "RESTORE_POINT_DAMAGED",
  "RESTORE_POINT_GONE",
  "RESTORE_POINT_IN_USE",
  "RESTORE_POINT_LOCKED",
  "RESTORE_POINT_UNKNOWN",
  "RESTORE_PREVIOUS_EXISTS",
  "RESTORE_SELECTION_UNKNOWN",
  "RESTORE_TABLES_EXIST",
  "RESTORE_TARGET_CHANGED",
  "RESTORE_TARGET_IS_ASSET",
  "RESTORE_TARGET_NOT_EMPTY",
  "RESTORE_TARGET_READ_ONLY",
  "RESTORE_TARGET_TOO_OLD",
  "RESTORE_UNVERIFIED",
  "RESTORE_VERIFY_FAILED",
  "SCRATCH_FAILED",
  "SCRATCH_LOCALE",
  "SCRATCH_TOO_OLD",
  "SCRATCH_UNAVAILABLE",
  "SELF_APPROVAL",
  "SERVE_LISTEN_FAILED",
  "SERVE_TLS_INVALID",
  "SQL_TOO_LARGE",
  "SQL_TRANSACTION_CONTROL",
  "STANDBY_WRITTEN",
  "STATE_BUSY",
  "STATE_INVALID",
  "STORE_ACCESS_DENIED",
  "STORE_BUCKET_MISSING",
  "STORE_CLOCK_SKEW",
  "STORE_FAILED",
  "STORE_THROTTLED",
  "STORE_UNREACHABLE",
  "STORE_WRONG_REGION",
  "TOOL_FAILED",
  "TOOL_NOT_FOUND",
  "TOOL_TOO_OLD",
  "TOOL_VERSION_UNKNOWN",
  "UNPROTECT_UNGATED",
  "UNSUPPORTED",
  "URL_INVALID",
  "USAGE",
  "VERIFY_FAILED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** "refused": the gate said no (self-approval, blocked run): exit 3 like a require/deny verdict. */
export type ErrorKind = "usage" | "config" | "runtime" | "verification" | "interrupted" | "refused";

export const EXIT_CODES = {
  ok: 0,
  runtime: 1,
  usage: 2,
  config: 2,
  verdict: 3,
  verification: 4,
  /** `status --check`: an asset breaches its RPO, its last drill failed, or an alert is open. */
  breach: 5,
  interrupted: 130,
  refused: 3,
} as const;

export class LifelineError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly fix: string | undefined;
  readonly details: readonly string[];

  constructor(opts: {
    code: ErrorCode;
    kind: ErrorKind;
    message: string;
    fix?: string;
    details?: readonly string[];
  }) {
    super(opts.message);
    this.name = "LifelineError";
    this.code = opts.code;
    this.kind = opts.kind;
    this.fix = opts.fix;
    this.details = opts.details ?? [];
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export function isLifelineError(value: unknown): value is LifelineError {
  return value instanceof LifelineError;
}

/** An id as typed, for an error message: one that long is no id of lifeline's, so it is cut short. */
export function typedId(id: string, max = 80): string {
  return id.length <= max ? id : `${id.slice(0, max)}… (${id.length} characters)`;
}

export function configError(path: string, problem: string, fix: string): LifelineError {
  return new LifelineError({
    code: "CONFIG_INVALID",
    kind: "config",
    message: `${path}: ${problem}`,
    fix,
  });
}

export function interrupted(): LifelineError {
  return new LifelineError({
    code: "INTERRUPTED",
    kind: "interrupted",
    message: "interrupted: stopped before finishing; nothing was committed",
  });
}

/**
 * Wraps an unexpected error (a database error mid-backup, say) so that it reaches the user as a
 * clear message with a stable code instead of a stack trace.
 */
export function asLifelineError(error: unknown, code: ErrorCode, doing: string): LifelineError {
  if (isLifelineError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LifelineError({ code, kind: "runtime", message: `${doing}: ${message}` });
}

/**
 * A restore point that exists but cannot be trusted: its manifest is unreadable, invalid or does
 * not match its digest. Exit 4 (like a failed verification) wherever it would have been used.
 */
/** A restore point removed (by retention) just before a drill, restore or standby took its hold. */
export function restorePointGone(asset: string, id: string): LifelineError {
  return new LifelineError({
    code: "RESTORE_POINT_GONE",
    kind: "runtime",
    message: `restore point ${id} of ${asset} was removed (by retention) as it was about to be read; nothing was read from it`,
    fix: `run the command again: it picks a restore point that exists (\`lifeline restore-points ${asset}\` lists them)`,
  });
}

export function inUse(asset: string, id: string, held: string): LifelineError {
  return new LifelineError({
    code: "RESTORE_POINT_IN_USE",
    kind: "runtime",
    message: `restore point ${id} of ${asset} is in use (${held}); it was not removed`,
    fix: `run lifeline prune ${asset} again once that is done`,
  });
}

/** The store retains the restore point (object lock) until `until`: nothing of it was removed. */
export function restorePointLocked(asset: string, id: string, until: Date): LifelineError {
  return new LifelineError({
    code: "RESTORE_POINT_LOCKED",
    kind: "runtime",
    message: `restore point ${id} of ${asset} is locked until ${until.toISOString()} (object lock); it was kept`,
    fix: `nothing to do: lifeline prune ${asset} removes it once its retention has passed`,
    details: [until.toISOString()],
  });
}

export function restorePointDamaged(asset: string, id: string, problem: string): LifelineError {
  return new LifelineError({
    code: "RESTORE_POINT_DAMAGED",
    kind: "verification",
    message: `restore point ${id} of ${asset} is damaged: ${problem}`,
    fix: `run \`lifeline check\` to see every damaged file; take a new restore point with \`lifeline backup ${asset}\` and drill it, or put back the manifest from a copy of the repository`,
  });
}
