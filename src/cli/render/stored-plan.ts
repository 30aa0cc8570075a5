/**
 * A recorded plan shown again (`show`, `approve`): the catalog keeps the plan's JSON document as
 * `plan --json` printed it; it is read back into the shape the plan renderer takes, so the
 * reviewer sees the plan as the requester saw it (operations, cascade, rows, dependents,
 * recoverability, requirements), rendered by the same code.
 */
import type { AssetAssessment, Consumer, Plan } from "../../core/plan/plan.js";
import type { DataLoss } from "../../core/plan/operation.js";
import type {
  AffectedObject,
  Dependent,
  PlannedOperation,
  Recoverability,
  Requirement,
  Verdict,
} from "../../core/plan/policy.js";
import type { PlanRecord } from "../../core/approval/approval.js";
import { renderPlan } from "./plan.js";

type Doc = Record<string, unknown>;

const isDoc = (v: unknown): v is Doc => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const strOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function recoverability(v: unknown): Recoverability {
  const r = isDoc(v) ? v : {};
  return {
    restorePoint: isDoc(r.restorePoint)
      ? (r.restorePoint as unknown as Recoverability["restorePoint"])
      : null,
    notContained: list(r.notContained).filter((x): x is string => typeof x === "string"),
    changesNotCovered: isDoc(r.changesNotCovered)
      ? (r.changesNotCovered as unknown as Recoverability["changesNotCovered"])
      : null,
    summary: str(r.summary, "(not recorded)"),
  };
}

function affected(v: unknown): AffectedObject {
  const c = isDoc(v) ? v : {};
  return {
    type: str(c.type),
    name: str(c.name),
    identity: strOrNull(c.identity),
    rows: num(c.rows),
    rowsExact: c.rowsExact === true,
    bytes: num(c.bytes),
    dataLoss: str(c.dataLoss, "unknown") as DataLoss,
    how: str(c.how),
  };
}

function operation(v: unknown, index: number): PlannedOperation {
  const o = isDoc(v) ? v : {};
  const target = strOrNull(o.target);
  const dataLoss = str(o.dataLoss, "unknown") as DataLoss;
  return {
    kind: str(o.kind, "unknown"),
    statementIndex: index,
    statement: str(o.statement),
    normalized: "",
    target: null,
    dataLoss,
    reason: str(o.reason),
    cascadeRequested: false,
    missingOk: false,
    filter: null,
    resolved:
      target === null
        ? null
        : {
            type: str(o.targetType),
            name: target,
            identity: strOrNull(o.identity),
            rows: num(o.rows),
            rowsExact: o.rowsExact === true,
            bytes: num(o.bytes),
            dataLoss,
            how: "",
          },
    rows: num(o.rows),
    bytes: num(o.bytes),
    cascade: list(o.cascade).map(affected),
    notes: list(o.notes).filter((x): x is string => typeof x === "string"),
  };
}

/** `plan --json` lists the clients connected at planning time as dependents; the plan showed them apart. */
const CLIENT = /^(.*) \((.+?)(?:@(.+))?, (\d+) connections?\)$/;

function dependentsAndConsumers(v: unknown): { dependents: Dependent[]; consumers: Consumer[] } {
  const dependents: Dependent[] = [];
  const consumers: Consumer[] = [];
  for (const item of list(v)) {
    const d = isDoc(item) ? item : {};
    const name = str(d.name);
    const client = d.kind === "client" && d.how === "pg_stat_activity" ? CLIENT.exec(name) : null;
    if (client) {
      consumers.push({
        application: client[1] ?? "",
        user: client[2] ?? "",
        address: client[3] ?? null,
        connections: Number(client[4]),
      });
    } else dependents.push({ kind: str(d.kind), name, on: str(d.on), how: str(d.how) });
  }
  return { dependents, consumers };
}

/**
 * What is shown of a recorded plan beyond its document: its requirements and verdict judged with
 * the approvals it has now (see judgeRecordedPlan), and each asset's tier (the document lists the
 * assets by name; a recovery plan's header names the tier, as `restore` printed it).
 */
export interface StoredPlanView {
  requirements?: Requirement[];
  verdict?: Verdict;
  tierOf?: (asset: string) => string | undefined;
}

/** The plan a stored document describes, in the shape renderPlan takes. */
export function planFromDocument(record: PlanRecord, view: StoredPlanView = {}): Plan {
  const doc = isDoc(record.document) ? record.document : {};
  const byAsset = isDoc(doc.recoverabilityByAsset) ? doc.recoverabilityByAsset : {};
  const names = list(doc.assets).filter((x): x is string => typeof x === "string");
  const assets: AssetAssessment[] = (names.length > 0 ? names : record.assets).map((name) => ({
    name,
    tier: view.tierOf?.(name) ?? "",
    recoverability: recoverability(byAsset[name]),
  }));
  const command = isDoc(doc.command) ? doc.command : {};
  const cluster = isDoc(doc.cluster) ? doc.cluster : null;
  return {
    planId: str(doc.planId, record.planId),
    asset: strOrNull(doc.asset) ?? record.assets[0] ?? null,
    assets,
    command: {
      kind: str(command.kind, record.command.kind) as Plan["command"]["kind"],
      text: str(command.text, record.command.text),
    },
    cluster: cluster ? { context: str(cluster.context), server: str(cluster.server) } : null,
    verdict: view.verdict ?? ((strOrNull(doc.verdict) ?? record.verdict) as Plan["verdict"]),
    operations: list(doc.operations).map(operation),
    ...dependentsAndConsumers(doc.dependents),
    recoverability: recoverability(doc.recoverability),
    requirements:
      view.requirements ?? (list(doc.requirements).filter(isDoc) as unknown as Plan["requirements"]),
    planningMs: num(doc.planningMs) ?? 0,
  };
}

/** The recorded plan as `plan` printed it. */
export function renderStoredPlan(record: PlanRecord, view: StoredPlanView = {}): string {
  return renderPlan(planFromDocument(record, view));
}
