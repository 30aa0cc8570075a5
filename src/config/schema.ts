import * as z from "zod";
import { parseDuration } from "../core/duration.js";
import { parseSelector } from "../core/kubernetes/selector.js";
import { isOperationKind, nearestOperationKinds } from "../core/plan/kinds.js";
import { UNBOUND_TIER } from "../core/plan/policy.js";

const TIERS = ["production", "staging", "development"] as const;

const duration = z.string().refine((v) => parseDuration(v) !== undefined, {
  error: "is not a duration; write it like 15m, 24h, 7d or 1d12h",
});

const postgresUrl = z.string().refine((v) => /^postgres(ql)?:\/\//.test(v) || /^\$\{/.test(v), {
  error: "is not a PostgreSQL URL; write postgres://user:${PASSWORD_VAR}@host:5432/database",
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

const assetSchema = z.strictObject({
  engine: z
    .literal("postgres", { error: "is not a supported engine; today lifeline supports: postgres" })
    .default("postgres"),
  url: postgresUrl,
  tier: z.enum(TIERS, { error: `must be one of: ${TIERS.join(", ")}` }).default("production"),
  rpo: duration.default("24h"),
  kubernetes: assetKubernetesSchema.optional(),
  drill: z
    .strictObject({
      scratch: scratch.default("embedded"),
      jobs: z.number().int().min(1).max(64).default(2),
    })
    .default({ scratch: "embedded", jobs: 2 }),
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

export const configSchema = z.strictObject({
  repository: z
    .strictObject({
      path: z.string().min(1).default(".lifeline/repository"),
      /** s3://bucket/prefix for S3-compatible object storage (credentials from the usual AWS chain). */
      url: z
        .string()
        .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, {
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
    })
    .refine((r) => r.encryption === undefined || r.url !== undefined, {
      error: "encryption is for a repository in object storage (url: s3://…) for now",
      path: ["encryption"],
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
   * on both sides. A directory (relative to lifeline.yaml) or s3://bucket/prefix on repository's store.
   */
  copies: z
    .array(
      z.strictObject({
        url: z.string().min(1),
        encryption: z
          .strictObject({ passphrase: z.string().min(8, { error: "is at least 8 characters" }) })
          .optional(),
      }),
    )
    .optional(),
  /** The gate's shared state: an SQLite file (default) or a postgres:// URL a team shares. */
  catalog: z.string().min(1).default(".lifeline/catalog.sqlite"),
  approvals: z
    .strictObject({ ttl: duration.default("1h"), maxTtl: duration.default("24h") })
    .default({ ttl: "1h", maxTtl: "24h" }),
  breakGlass: z.strictObject({ max: duration.default("1h") }).default({ max: "1h" }),
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
    })
    .optional(),
  assets: z
    .record(
      z.string().regex(ASSET_NAME, {
        error: "asset names use lowercase letters, digits, - and _, starting with a letter or digit",
      }),
      assetSchema,
    )
    .refine((assets) => Object.keys(assets).length > 0, { error: "lists no asset" }),
});

export type Config = z.infer<typeof configSchema>;
export type AssetConfig = z.infer<typeof assetSchema>;
