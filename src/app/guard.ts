import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ResolvedAsset } from "../config/load.js";
import { LifelineError } from "../core/errors.js";
import { assemblePlan, noRecoverability, type Plan } from "../core/plan/plan.js";
import { evaluatePolicy, type PlannedOperation, type PolicyRule } from "../core/plan/policy.js";
import type { DatabaseGuard, Engine, GuardSettings, GuardState } from "../ports/engine.js";
import type { AppContext } from "./context.js";
import { auditInput, type GateDeps } from "./gate.js";
import { PLAN_ASSEMBLY } from "./plan.js";
import { run, type RunOutcome } from "./run.js";

/** Where lifeline keeps an asset's guard key (its state directory; readable by its owner only). */
export function guardKeyFile(stateDir: string, asset: string): string {
  return path.join(stateDir, "guard", `${asset}.key`);
}

export function readGuardKey(stateDir: string, asset: string): Buffer | null {
  try {
    const key = readFileSync(guardKeyFile(stateDir, asset));
    return key.length >= 32 ? key : null;
  } catch {
    return null;
  }
}

/** The asset's key, created (32 random bytes, mode 0600) the first time. */
function ensureGuardKey(stateDir: string, asset: string): Buffer {
  const existing = readGuardKey(stateDir, asset);
  if (existing) return existing;
  const file = guardKeyFile(stateDir, asset);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(file, key, { mode: 0o600 });
  return key;
}

function guardOf(engine: Engine): DatabaseGuard {
  if (!engine.guard)
    throw new LifelineError({
      code: "GUARD_UNSUPPORTED",
      kind: "usage",
      message: `engine ${engine.name} has no database guard`,
      fix: "the guard exists for postgres assets; protect other assets with lifeline run and the admission webhook",
    });
  return engine.guard;
}

export interface GuardInstallPreview {
  asset: string;
  settings: GuardSettings;
  /** The SQL install runs, in one transaction (the key is passed as a parameter, not shown). */
  sql: string;
  /**
   * Whether the policy asks another person's approval for destroying this asset's data. When it
   * does not, the guard still refuses (it does not evaluate the policy inside PostgreSQL), and
   * lifeline run passes: the guard then only forces destruction through lifeline.
   */
  policyRequiresApproval: boolean;
}

/** What install would run; reads nothing. */
export function previewGuardInstall(
  ctx: AppContext,
  asset: ResolvedAsset,
  massChange: GuardSettings["massChange"],
  policy: readonly PolicyRule[],
): GuardInstallPreview {
  const judged = evaluatePolicy(
    policy,
    {
      asset: { name: asset.name, tier: asset.tier, rpoSeconds: asset.rpoSeconds },
      operations: [{ kind: "drop-table", dataLoss: "destructive" }],
      recoverability: noRecoverability(""),
      approvals: 0,
      planId: "",
    },
    String,
  );
  const guard = guardOf(ctx.engine(asset.engine));
  const settings: GuardSettings = { asset: asset.name, tier: asset.tier, massChange };
  const mass = massChange
    ? `${massChange.rows}, ${massChange.percent ?? "NULL"}, ${massChange.minRows}`
    : "NULL, NULL, NULL";
  return {
    asset: asset.name,
    settings,
    policyRequiresApproval: judged.requirements.some((r) => r.kind === "approvals"),
    sql: `BEGIN;\n${guard.installSql().trimEnd()}\nSELECT lifeline_guard.configure('${asset.name}', '${asset.tier}', <key>, ${mass});\nCOMMIT;\n`,
  };
}

/** Installs (or reinstalls, keeping lifeline's key) the guard, and records it in the audit log. */
export async function installGuard(
  deps: { ctx: AppContext; gate: GateDeps; stateDir: string },
  asset: ResolvedAsset,
  preview: GuardInstallPreview,
  adminUrl: string | null,
): Promise<GuardState> {
  const engine = deps.ctx.engine(asset.engine);
  const guard = guardOf(engine);
  const target = engine.target(asset.url);
  const admin = adminUrl ? engine.withDatabase(engine.target(adminUrl), engine.database(target)) : target;
  const key = ensureGuardKey(deps.stateDir, asset.name);
  deps.ctx.progress.phase(`installing the guard on ${admin.display}`);
  await guard.install(admin, preview.settings, key);
  const state = await guard.status(target, key);
  await deps.gate.catalog.appendAudit(
    auditInput(deps.gate, "guard-install", {
      asset: asset.name,
      data: {
        database: target.display,
        as: admin.display,
        tier: asset.tier,
        massChange: preview.settings.massChange,
        version: state.version,
        problems: state.problems,
      },
    }),
  );
  return state;
}

export async function guardState(
  ctx: AppContext,
  asset: ResolvedAsset,
  stateDir: string | null,
): Promise<GuardState> {
  const engine = ctx.engine(asset.engine);
  return guardOf(engine).status(
    engine.target(asset.url),
    stateDir ? readGuardKey(stateDir, asset.name) : null,
  );
}

/**
 * Removes the guard through the gate: removing protection is planned as operation
 * `guard-uninstall` and needs what the policy asks for it (by default on production: another
 * person's approval), like lifeline's other changes to protection.
 */
export async function uninstallGuard(
  deps: { ctx: AppContext; gate: GateDeps },
  asset: ResolvedAsset,
  request: {
    adminUrl: string | null;
    policy: readonly PolicyRule[];
    commandText: string;
    dryRun: boolean;
    document: (plan: Plan) => unknown;
  },
): Promise<RunOutcome> {
  const engine = deps.ctx.engine(asset.engine);
  const guard = guardOf(engine);
  const target = engine.target(asset.url);
  const admin = request.adminUrl
    ? engine.withDatabase(engine.target(request.adminUrl), engine.database(target))
    : target;
  const outcome = await run(deps.gate, {
    planner: async () => {
      const started = performance.now();
      const state = await guard.status(target, null);
      if (!state.installed)
        throw new LifelineError({
          code: "GUARD_NOT_INSTALLED",
          kind: "usage",
          message: `${asset.name} (${target.display}) has no guard to remove`,
          fix: `lifeline guard status ${asset.name}`,
        });
      const database = engine.database(target);
      const operation: PlannedOperation = {
        kind: "guard-uninstall",
        statementIndex: 0,
        statement: request.commandText,
        normalized: `guard-uninstall ${database}`,
        target: { type: "database", schema: null, name: database },
        resolved: null,
        dataLoss: "none",
        reason: `removes the database guard of ${asset.name}: DROP, TRUNCATE and mass DELETE/UPDATE from any client (psql, migrations, jobs) are no longer refused inside PostgreSQL`,
        cascadeRequested: false,
        missingOk: false,
        filter: null,
        rows: null,
        bytes: null,
        cascade: [],
        notes: [],
      };
      return assemblePlan(
        {
          command: { kind: "lifeline", text: request.commandText },
          cluster: null,
          assets: [
            {
              name: asset.name,
              tier: asset.tier,
              recoverability: noRecoverability("no data is destroyed: protection is removed"),
            },
          ],
          operations: [operation],
          dependents: [],
          consumers: [],
          identity: { asset: asset.name, normalizedStatements: [operation.normalized], restorePointId: null },
          subjects: [
            {
              asset: { name: asset.name, tier: asset.tier, rpoSeconds: asset.rpoSeconds },
              operations: [operation],
              recoverability: noRecoverability("no data is destroyed"),
            },
          ],
          recoverability: noRecoverability("no data is destroyed: protection is removed"),
          policy: request.policy,
          planningMs: Math.round(performance.now() - started),
        },
        PLAN_ASSEMBLY,
      );
    },
    document: request.document,
    dryRun: request.dryRun,
    signal: deps.ctx.signal,
    executor: async () => {
      await guard.uninstall(admin);
      return { exitCode: 0 };
    },
  });
  if (outcome.status === "executed") {
    await deps.gate.catalog.appendAudit(
      auditInput(deps.gate, "guard-uninstall", {
        asset: asset.name,
        planId: outcome.plan.planId,
        data: { database: target.display, as: admin.display },
      }),
    );
  }
  return outcome;
}
