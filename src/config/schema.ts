import * as z from "zod";
import { parseDuration } from "../core/duration.js";
import { cronProblem } from "../core/schedule/cron.js";
import { parseSelector } from "../core/kubernetes/selector.js";
import { isOperationKind, nearestOperationKinds } from "../core/plan/kinds.js";
import { UNBOUND_TIER } from "../core/plan/policy.js";

const TIERS = ["production", "staging", "development"] as const;

const duration = z.string().refine((v) => parseDuration(v) !== undefined, {
  error: "is not a duration; write it like 15m, 24h, 7d or 1d12h",
});

/** A duration, or milliseconds for sub-second intervals (tests, demos): 500ms. */
const interval = z.string().refine((v) => /^\d+ms$/.test(v.trim()) || parseDuration(v) !== undefined, {
  error: "is not an interval; write it like 30s, 5m or 500ms",
});

const postgresUrl = z.string().refine((v) => /^postgres(ql)?:\/\//.test(v) || /^\$\{/.test(v), {
  error: "is not a PostgreSQL URL; write postgres://user:${PASSWORD_VAR}@host:5432/database",
});

/** A cron expression, checked when the config is loaded (UTC; 5 fields, or 6 with seconds first). */
const cron = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const problem = cronProblem(value);
    if (problem)
      ctx.addIssue({
        code: "custom",
        message: `"${value}" is not a cron expression (${problem}); write it like "0 3 * * *" (minute hour day-of-month month day-of-week, UTC), "*/30 * * * * *" (seconds first) or "@daily"`,
      });
  });

/** When the server (`lifeline serve`) backs an asset up and drills it. */
const scheduleSchema = z.strictObject({
  backup: cron.optional(),
  /** "after-backup": each scheduled backup is drilled as soon as it is taken; or a cron expression. */
  drill: z.union([z.literal("after-backup"), cron]).optional(),
});

/**
 * Which restore points `lifeline prune` (and the server after each verified backup) keeps: the
 * newest `keepLast` verified ones, the newest verified one of each of the last `daily` days and of
 * each of the last `weekly` weeks. The newest verified one is always kept.
 */
const retentionSchema = z.strictObject({
  keepLast: z.number().int().min(1).max(100_000).default(3),
  daily: z.number().int().min(0).max(100_000).default(7),
  weekly: z.number().int().min(0).max(100_000).default(4),
});

const scratch = z.union([z.literal("embedded"), z.strictObject({ url: postgresUrl })]);

const labelSelector = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    try {
      parseSelector(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
    }
  });

/** Binds an asset to the Kubernetes resources that hold its data. */
const assetKubernetesSchema = z.strictObject({
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: "is not a Kubernetes namespace name" }),
  release: z.string().min(1).optional(),
  pvcSelector: labelSelector.optional(),
  context: z.string().min(1).optional(),
  /** The Service dependents reach the database through (what `standby` would point at the standby). */
  service: z
    .string()
    .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, { error: "is not a Kubernetes Service name" })
    .optional(),
});

/**
 * The database guard's mass DELETE/UPDATE check: a statement changing more than `rows` rows, or
 * more than `percent` % of its table when it changes more than `minRows`, is refused without an
 * approved plan. `false` turns the check off.
 */
const massChangeSchema = z.union(
  [
    z.literal(false),
    z.strictObject({
      rows: z
        .number({ error: "is a number of rows, e.g. 1000" })
        .int()
        .min(1, { error: "is at least 1 row" })
        .default(1000),
      percent: z
        .number({ error: "is a percentage of the table, e.g. 10 (or leave it out)" })
        .gt(0)
        .max(100)
        .optional(),
      minRows: z
        .number({ error: "is a number of rows, e.g. 100" })
        .int()
        .min(1, { error: "is at least 1 row" })
        .default(100),
    }),
  ],
  { error: "is false (no mass-change check) or { rows: 1000, percent: 10, minRows: 100 }" },
);

const guardSettingsSchema = z.strictObject({ massChange: massChangeSchema.optional() });

const assetSchema = z.strictObject({
  engine: z
    .literal("postgres", { error: "is not a supported engine; today lifeline supports: postgres" })
    .default("postgres"),
  url: postgresUrl,
  tier: z.enum(TIERS, { error: `must be one of: ${TIERS.join(", ")}` }).default("production"),
  rpo: duration.default("24h"),
  kubernetes: assetKubernetesSchema.optional(),
  /** The database guard's settings for this asset (over the tier's, under guard: in the file). */
  guard: guardSettingsSchema.optional(),
  drill: z
    .strictObject({
      scratch: scratch.default("embedded"),
      jobs: z.number().int().min(1).max(64).default(2),
    })
    .default({ scratch: "embedded", jobs: 2 }),
  schedule: scheduleSchema.optional(),
  retention: retentionSchema.optional(),
});

const oneOrMany = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const DATA_LOSS = ["none", "recoverable", "destructive", "unknown"] as const;
/** The tiers a rule can match: the assets' tiers, and "unbound" (Kubernetes data no asset covers). */
const POLICY_TIERS = [...TIERS, UNBOUND_TIER] as const;

/** A value a rule cannot match must not pass: a misspelt deny rule would never deny (fail open). */
const operationKinds = oneOrMany.superRefine((kinds, ctx) => {
  for (const kind of kinds) {
    if (isOperationKind(kind)) continue;
    const near = nearestOperationKinds(kind);
    ctx.addIssue({
      code: "custom",
      message:
        `"${kind}" is not an operation kind${near.length > 0 ? ` (did you mean ${near.join(" or ")}?)` : ""}; ` +
        "the kinds are those `lifeline plan --json` shows, e.g. drop-table, drop-database, truncate, delete, update, " +
        "alter-table-drop-column, alter-column-type, delete-pvc, delete-pv, delete-namespace, helm-uninstall",
    });
  }
});

const policyRuleSchema = z
  .strictObject({
    name: z.string().min(1),
    match: z
      .strictObject({
        tier: z
          .union([z.enum(POLICY_TIERS), z.array(z.enum(POLICY_TIERS))], {
            error: `must be one or a list of: ${POLICY_TIERS.join(", ")}`,
          })
          .transform((v) => (Array.isArray(v) ? v : [v]))
          .optional(),
        asset: oneOrMany.optional(),
        kind: operationKinds.optional(),
        dataLoss: z
          .union([z.enum(DATA_LOSS), z.array(z.enum(DATA_LOSS))], {
            error: `must be one or a list of: ${DATA_LOSS.join(", ")}`,
          })
          .transform((v) => (Array.isArray(v) ? v : [v]))
          .optional(),
      })
      .default({}),
    require: z
      .strictObject({
        verifiedRestorePoint: z
          .union([z.literal("rpo"), duration], { error: 'is "rpo" (the asset\'s rpo) or a duration like 6h' })
          .optional(),
        approvals: z.number().int().min(0).max(10).optional(),
      })
      .optional(),
    deny: z.string().min(1).optional(),
  })
  .refine((r) => r.require !== undefined || r.deny !== undefined, {
    error: "a rule needs `require:` or `deny:`",
  });

/** HOST:PORT for `lifeline serve` (an IPv6 host in brackets; no host: every address). */
export const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):([0-9]{1,5})$/;

export const ASSET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Groups every authenticated (or anonymous) caller is in: mapping one maps everybody. */
export const EVERYONE_GROUPS = ["system:authenticated", "system:unauthenticated", "system:serviceaccounts"];

const kubernetesName = z
  .string()
  .min(1, { error: "is empty; write the name exactly as the API server authenticates it" })
  .refine((v) => v.trim() === v, { error: "has leading or trailing spaces" });

/**
 * Who a lifeline identity (the name `lifeline` commands record: LIFELINE_USER, else the git email)
 * is at the Kubernetes API: the usernames and groups the API server authenticates it as (what
 * `kubectl auth whoami` shows). The admission webhook counts that identity's break-glass grants for them.
 */
const identitySchema = z.strictObject({
  kubernetes: z
    .strictObject({
      users: z.array(kubernetesName).default([]),
      groups: z
        .array(
          kubernetesName.refine((g) => !EVERYONE_GROUPS.includes(g), {
            error: `names a group everybody is in (${EVERYONE_GROUPS.join(", ")}): anyone would act as this identity; name the person's own user, or a group only they and their team are in`,
          }),
        )
        .default([]),
    })
    .refine((k) => k.users.length + k.groups.length > 0, {
      error:
        "lists no users and no groups; write e.g. kubernetes: { users: [alice@acme.com], groups: [sre] }",
    }),
});

/** s3://bucket/prefix: a lowercase bucket name, 3 to 63 characters. */
export const S3_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;

export const configSchema = z.strictObject({
  repository: z
    .strictObject({
      path: z.string().min(1).default(".lifeline/repository"),
      /** s3://bucket/prefix for S3-compatible object storage (credentials from the usual AWS chain). */
      url: z
        .string()
        .regex(S3_URL, {
          error: "is s3://bucket/prefix (a lowercase bucket name, 3 to 63 characters)",
        })
        .optional(),
      endpoint: z.url({ protocol: /^https?$/, error: "is the store's http(s):// URL" }).optional(),
      region: z.string().min(1).optional(),
      forcePathStyle: z.boolean().optional(),
      /** Client-side encryption (object storage): give the passphrase from the environment, ${VAR}. */
      encryption: z
        .strictObject({ passphrase: z.string().min(8, { error: "is at least 8 characters" }) })
        .optional(),
      /**
       * Object lock (a bucket created with it): each restore point's objects are retained for `days`;
       * governance: accounts with s3:BypassGovernanceRetention may still delete; compliance: nobody.
       */
      objectLock: z
        .strictObject({
          mode: z.enum(["governance", "compliance"], { error: "is governance or compliance" }),
          days: z
            .number({ error: "is a number of days, e.g. 30" })
            .int({ error: "is a whole number of days" })
            .min(1, { error: "is at least 1 day" })
            .max(36500, { error: "is at most 36500 days (100 years)" }),
        })
        .optional(),
    })
    .refine((r) => r.encryption === undefined || r.url !== undefined, {
      error: "encryption is for a repository in object storage (url: s3://…) for now",
      path: ["encryption"],
    })
    .refine((r) => r.objectLock === undefined || r.url !== undefined, {
      error:
        "objectLock is for a repository in object storage (url: s3://… on a bucket created with object lock); remove it for a local repository, whose files any process with write access can delete",
      path: ["objectLock"],
    })
    .default({ path: ".lifeline/repository" }),
  tools: z.strictObject({ pgBin: z.string().min(1).optional() }).default({}),
  backup: z
    .strictObject({
      jobs: z.number().int().min(1).max(64).default(2),
      compression: z.number().int().min(0).max(9).default(1),
    })
    .default({ jobs: 2, compression: 1 }),
  policy: z.strictObject({ rules: z.array(policyRuleSchema) }).optional(),
  /**
   * Second repositories (3-2-1): each restore point that passes its drill is copied to each, checked
   * on both sides. A directory (relative to lifeline.yaml) or s3://bucket/prefix: on the store the
   * entry names (endpoint, region, forcePathStyle), else on repository's store (AWS S3 when the
   * repository is local).
   */
  copies: z
    .array(
      z
        .strictObject({
          // A URL that is not s3://bucket/prefix is refused, not taken for a directory: a typo
          // (s3://Backups/x, s3://key:secret@bucket) would otherwise copy into ./s3:/… unencrypted.
          url: z
            .string()
            .min(1)
            .refine((url) => !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url) || S3_URL.test(url), {
              error: "is a directory or s3://bucket/prefix (a lowercase bucket name, 3 to 63 characters)",
            }),
          encryption: z
            .strictObject({ passphrase: z.string().min(8, { error: "is at least 8 characters" }) })
            .optional(),
          /** The copy's own store (s3:// only); any of them given: none is taken from repository:. */
          endpoint: z.url({ protocol: /^https?$/, error: "is the store's http(s):// URL" }).optional(),
          region: z.string().min(1).optional(),
          forcePathStyle: z.boolean().optional(),
          /** From an encrypted repository without encryption (a directory, or s3:// without encryption:), on purpose (refused otherwise). */
          allowPlaintext: z.boolean().optional(),
        })
        // A passphrase on a directory would be ignored: the copy would be plaintext, silently.
        .refine((c) => c.encryption === undefined || S3_URL.test(c.url), {
          error:
            "is for a copy in object storage (url: s3://…) for now: lifeline does not encrypt a directory, whose copy would be written in plaintext; copy to s3://bucket/prefix, or remove encryption: (and set allowPlaintext: true to copy an encrypted repository there on purpose)",
          path: ["encryption"],
        })
        .refine((c) => c.endpoint === undefined || S3_URL.test(c.url), {
          error: "is for a copy in object storage (url: s3://bucket/prefix); remove it for a directory",
          path: ["endpoint"],
        })
        .refine((c) => c.region === undefined || S3_URL.test(c.url), {
          error: "is for a copy in object storage (url: s3://bucket/prefix); remove it for a directory",
          path: ["region"],
        })
        .refine((c) => c.forcePathStyle === undefined || S3_URL.test(c.url), {
          error: "is for a copy in object storage (url: s3://bucket/prefix); remove it for a directory",
          path: ["forcePathStyle"],
        }),
    )
    .optional(),
  /** The gate's shared state: an SQLite file (default) or a postgres:// URL a team shares. */
  catalog: z.string().min(1).default(".lifeline/catalog.sqlite"),
  approvals: z
    .strictObject({ ttl: duration.default("1h"), maxTtl: duration.default("24h") })
    .default({ ttl: "1h", maxTtl: "24h" }),
  breakGlass: z.strictObject({ max: duration.default("1h") }).default({ max: "1h" }),
  /** The database guard's settings per tier (an asset's own guard: wins). */
  guard: z
    .partialRecord(
      z.enum(TIERS, { error: `is not a tier; the tiers are: ${TIERS.join(", ")}` }),
      guardSettingsSchema,
    )
    .optional(),
  notifications: z
    .strictObject({
      webhooks: z
        .array(
          z.string().refine((v) => /^https?:\/\//.test(v) || /^\$\{/.test(v), {
            error: "is not an http(s) URL; write https://hooks.slack.com/services/${SLACK_WEBHOOK_PATH}",
          }),
        )
        .default([]),
    })
    .default({ webhooks: [] }),
  kubernetes: z
    .strictObject({
      kubeconfig: z.string().min(1).optional(),
      context: z.string().min(1).optional(),
      clusterDomain: z.string().min(1).default("cluster.local"),
    })
    .optional(),
  /** `lifeline serve`: where it listens and its TLS certificate and key (paths beside lifeline.yaml). */
  serve: z
    .strictObject({
      listen: z
        .string()
        .regex(LISTEN, { error: "is not HOST:PORT; write 0.0.0.0:8443 (or [::]:8443, or :8443)" })
        .default("0.0.0.0:8443"),
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      /**
       * Usernames of more controllers that finish deletions lifeline allowed, besides
       * kube-controller-manager's: e.g. a CSI driver's external-provisioner, which deletes the
       * volumes of reclaim policy Delete. Like those, they pass only with the evidence.
       */
      controllers: z
        .array(
          z.string().regex(/^system:\S+$/, {
            error:
              "is not a controller's username; controllers authenticate as system:serviceaccount:<namespace>:<name> (or another system: user)",
          }),
        )
        .default([]),
      /** Scheduled backups and drills: how many run at once in this server, attempts, when a server counts as dead. */
      jobs: z
        .strictObject({
          concurrency: z.number().int().min(1).max(64).default(1),
          attempts: z.number().int().min(1).max(25).default(3),
          deadAfter: duration.default("60s"),
        })
        .default({ concurrency: 1, attempts: 3, deadAfter: "60s" }),
    })
    .optional(),
  /** `lifeline serve`'s watch: samples every asset each interval and alerts on losses. */
  watch: z
    .strictObject({
      enabled: z.boolean().default(true),
      interval: interval.default("30s"),
      /** A table's rows falling by more than `percent` and at least `rows` between two samples is an alert. */
      rowsFall: z
        .strictObject({
          percent: z.number().gt(0).max(100).default(50),
          rows: z.number().int().min(0).default(1000),
        })
        .default({ percent: 50, rows: 1000 }),
    })
    .optional(),
  /** Lifeline identities and who they are at the Kubernetes API (the webhook's break-glass). */
  identities: z
    .record(
      z.string().min(1).regex(/^\S+$/, {
        error: "an identity has no spaces (it is what LIFELINE_USER or git's user.email says)",
      }),
      identitySchema,
    )
    .default({}),
  /**
   * May be empty (`assets: {}`): the Kubernetes starter config of `lifeline k8s install`. Every
   * volume's data is then unbound and judged by the unbound rule; commands that name an asset say
   * how to add one.
   */
  assets: z
    .record(
      z.string().regex(ASSET_NAME, {
        error: "asset names use lowercase letters, digits, - and _, starting with a letter or digit",
      }),
      assetSchema,
    )
    .default({}),
});

export type Config = z.infer<typeof configSchema>;
export type AssetConfig = z.infer<typeof assetSchema>;
export type IdentityConfig = z.infer<typeof identitySchema>;
