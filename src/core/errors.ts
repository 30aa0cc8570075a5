/**
 * Every failure lifeline reports is a LifelineError: a stable code, a message that says what went
 * wrong, and a fix that says what to do. The CLI maps the kind to an exit code; nothing below the
 * CLI calls process.exit.
 */
/** "refused": the gate said no (self-approval, blocked run): exit 3 like a require/deny verdict. */
export type ErrorKind = "usage" | "config" | "runtime" | "verification" | "interrupted" | "refused";

export const EXIT_CODES = {
  ok: 0,
  runtime: 1,
  usage: 2,
  config: 2,
  verdict: 3,
  verification: 4,
  interrupted: 130,
  refused: 3,
} as const;

export class LifelineError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly fix: string | undefined;
  readonly details: readonly string[];

  constructor(opts: {
    code: string;
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
export function asLifelineError(error: unknown, code: string, doing: string): LifelineError {
  if (isLifelineError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LifelineError({ code, kind: "runtime", message: `${doing}: ${message}` });
}

/**
 * A restore point that exists but cannot be trusted: its manifest is unreadable, invalid or does
 * not match its digest. Exit 4 (like a failed verification) wherever it would have been used.
 */
export function restorePointDamaged(asset: string, id: string, problem: string): LifelineError {
  return new LifelineError({
    code: "RESTORE_POINT_DAMAGED",
    kind: "verification",
    message: `restore point ${id} of ${asset} is damaged: ${problem}`,
    fix: `run \`lifeline check\` to see every damaged file; take a new restore point with \`lifeline backup ${asset}\` and drill it, or put back the manifest from a copy of the repository`,
  });
}
