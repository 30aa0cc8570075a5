/**
 * The operation kinds lifeline plans, as one registry: what policy rules in lifeline.yaml may name
 * in `match.kind` (a kind not listed here is a config error, not a rule that silently never
 * matches). The SQL classifier (engines/postgres) and the Kubernetes planner (core/k8s) produce
 * these; psql meta-commands are `psql-<name>` as written (`psql-i`, `psql-connect`, …).
 */

/** SQL statements: the classifier's own kinds, `drop-<object>`, and the statement types it plans as such. */
export const SQL_OPERATION_KINDS = [
  "alter-collation",
  "alter-column-drop-expression",
  "alter-column-set-not-null",
  "alter-column-type",
  "alter-database",
  "alter-database-refresh-coll",
  "alter-database-set",
  "alter-default-privileges",
  "alter-domain",
  "alter-enum",
  "alter-event-trig",
  "alter-extension",
  "alter-extension-contents",
  "alter-fdw",
  "alter-foreign-server",
  "alter-function",
  "alter-object-depends",
  "alter-object-schema",
  "alter-op-family",
  "alter-operator",
  "alter-owner",
  "alter-policy",
  "alter-publication",
  "alter-role",
  "alter-role-set",
  "alter-seq",
  "alter-sequence",
  "alter-stats",
  "alter-subscription",
  "alter-system",
  "alter-table",
  "alter-table-add-constraint",
  "alter-table-drop-column",
  "alter-table-drop-constraint",
  "alter-table-move-all",
  "alter-table-space-options",
  "alter-tsconfiguration",
  "alter-tsdictionary",
  "alter-type",
  "alter-user-mapping",
  "call",
  "check-point",
  "close-portal",
  "cluster",
  "comment",
  "composite-type",
  "constraints-set",
  "copy",
  "copy-file",
  "copy-from",
  "copy-program",
  "create",
  "create-am",
  "create-cast",
  "create-conversion",
  "create-domain",
  "create-enum",
  "create-event-trig",
  "create-event-trigger",
  "create-extension",
  "create-fdw",
  "create-foreign-server",
  "create-foreign-table",
  "create-function",
  "create-op-class",
  "create-op-family",
  "create-plang",
  "create-policy",
  "create-publication",
  "create-range",
  "create-role",
  "create-rule",
  "create-schema",
  "create-seq",
  "create-stats",
  "create-subscription",
  "create-table-as",
  "create-table-space",
  "create-transform",
  "create-trig",
  "create-trigger",
  "create-user-mapping",
  "create-view",
  "createdb",
  "deallocate",
  "declare-cursor",
  "define",
  "delete",
  "discard",
  "do",
  "drop",
  "drop-access_method",
  "drop-aggregate",
  "drop-amop",
  "drop-amproc",
  "drop-attribute",
  "drop-cast",
  "drop-collation",
  "drop-column",
  "drop-conversion",
  "drop-database",
  "drop-defacl",
  "drop-default",
  "drop-domain",
  "drop-domconstraint",
  "drop-event_trigger",
  "drop-extension",
  "drop-fdw",
  "drop-foreign-table",
  "drop-foreign_server",
  "drop-foreign_table",
  "drop-function",
  "drop-index",
  "drop-language",
  "drop-largeobject",
  "drop-materialized-view",
  "drop-matview",
  "drop-opclass",
  "drop-operator",
  "drop-opfamily",
  "drop-owned",
  "drop-parameter_acl",
  "drop-policy",
  "drop-procedure",
  "drop-publication",
  "drop-publication_namespace",
  "drop-publication_rel",
  "drop-role",
  "drop-routine",
  "drop-rule",
  "drop-schema",
  "drop-sequence",
  "drop-statistic_ext",
  "drop-statistics",
  "drop-subscription",
  "drop-tabconstraint",
  "drop-table",
  "drop-table-space",
  "drop-tablespace",
  "drop-transform",
  "drop-trigger",
  "drop-tsconfiguration",
  "drop-tsdictionary",
  "drop-tsparser",
  "drop-tstemplate",
  "drop-type",
  "drop-user-mapping",
  "drop-user_mapping",
  "drop-view",
  "dropdb",
  "execute",
  "explain",
  "fetch",
  "function-call",
  "grant",
  "grant-role",
  "import-foreign-schema",
  "index",
  "insert",
  "listen",
  "load",
  "lock",
  "merge",
  "notify",
  "plassign",
  "prepare",
  "psql-copy",
  "raw",
  "read",
  "reassign-owned",
  "refresh-mat-view",
  "reindex",
  "rename",
  "replace-view",
  "replica-identity",
  "return",
  "rule",
  "savepoint",
  "sec-label",
  "select",
  "set-operation",
  "transaction",
  "transaction-control",
  "truncate",
  "unknown",
  "unlisten",
  "update",
  "upsert",
  "vacuum",
  "variable-set",
  "variable-show",
  "view",
] as const;

/** kubectl and helm commands. */
export const COMMAND_OPERATION_KINDS = [
  "annotate-dry-run",
  "apply-dry-run",
  "create-dry-run",
  "create-namespace",
  "delete-cluster",
  "delete-configmap",
  "delete-context",
  "delete-cronjob",
  "delete-daemonset",
  "delete-deployment",
  "delete-dry-run",
  "delete-emptydir-data",
  "delete-job",
  "delete-local-data",
  "delete-namespace",
  "delete-node",
  "delete-pod",
  "delete-pv",
  "delete-pvc",
  "delete-replicaset",
  "delete-secret",
  "delete-service",
  "delete-statefulset",
  "delete-storageclass",
  "delete-user",
  "delete-volumesnapshot",
  "drain-dry-run",
  "drain-node",
  "edit-dry-run",
  "helm-install",
  "helm-install-dry-run",
  "helm-rollback",
  "helm-rollback-dry-run",
  "helm-uninstall",
  "helm-uninstall-dry-run",
  "helm-upgrade",
  "helm-upgrade-dry-run",
  "label-dry-run",
  "patch",
  "patch-dry-run",
  "patch-file",
  "patch-pv-reclaim-policy",
  "patch-pv-reclaim-policy-delete",
  "read",
  "replace",
  "replace-dry-run",
  "rollout-dry-run",
  "scale-deployment",
  "scale-dry-run",
  "scale-replicaset",
  "scale-statefulset",
  "set-dry-run",
  "unknown",
] as const;

/** lifeline's own recovery commands, planned through the gate like any other destruction. */
export const RECOVERY_OPERATION_KINDS = [
  /** `restore --to URL --replace`: the target's current data is replaced. */
  "restore-replace-database",
  /** `restore --in-place`: what was written since the restore point is set aside (kept as the previous database). */
  "restore-in-place",
  /** `restore --tables` back into the asset's database: creates tables that no longer exist. */
  "restore-tables",
  /** `restore --discard-previous`: drops the database an in-place restore kept. */
  "discard-previous-database",
] as const;

/** Changes to lifeline's own protection, planned through the gate. */
export const GUARD_OPERATION_KINDS = [
  /** `guard uninstall`: the database guard is removed (protection, not data). */
  "guard-uninstall",
] as const;

export type OperationKind =
  | (typeof SQL_OPERATION_KINDS)[number]
  | (typeof COMMAND_OPERATION_KINDS)[number]
  | (typeof RECOVERY_OPERATION_KINDS)[number]
  | (typeof GUARD_OPERATION_KINDS)[number]
  | `psql-${string}`;

const KINDS: ReadonlySet<string> = new Set<string>([
  ...SQL_OPERATION_KINDS,
  ...COMMAND_OPERATION_KINDS,
  ...RECOVERY_OPERATION_KINDS,
  ...GUARD_OPERATION_KINDS,
]);

/** psql meta-commands as psql reads them: a backslash and letters (or `!`, `?`), e.g. `psql-i`. */
const PSQL_KIND = /^psql-([A-Za-z_?]+|shell|meta)$/;

export function isOperationKind(kind: string): kind is OperationKind {
  return KINDS.has(kind) || PSQL_KIND.test(kind);
}

/** The registered kinds closest to a misspelt one (by edit distance; at most three), for the fix. */
export function nearestOperationKinds(kind: string): string[] {
  const distance = (a: string, b: string): number => {
    let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      const current = [i];
      for (let j = 1; j <= b.length; j++) {
        current[j] = Math.min(
          (previous[j] ?? 0) + 1,
          (current[j - 1] ?? 0) + 1,
          (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      }
      previous = current;
    }
    return previous[b.length] ?? 0;
  };
  const scored = [...KINDS]
    .map((k) => ({ k, d: distance(kind, k) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(kind.length / 4)));
  const best = Math.min(...scored.map((x) => x.d));
  return scored
    .filter((x) => x.d === best)
    .map((x) => x.k)
    .sort()
    .slice(0, 3);
}
