/**
 * The demo's recovery part, after the gate: the loss (the DROP TABLE products CASCADE that the plan
 * showed, approved and run), the merchant feed broken, a standby as the fallback the readers can
 * use meanwhile (a write into it fails), then only what was lost restored back into the live
 * database, and the merchant feed working again. Each step is timed.
 */
import { withoutPassword } from "../core/redact.js";
import pg from "pg";
import type { Approval } from "../core/approval/approval.js";
import type { Plan } from "../core/plan/plan.js";
import { DEFAULT_POLICY } from "../core/plan/policy.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Target } from "../ports/engine.js";
import type { AppContext } from "../app/context.js";
import { approve } from "../app/approve.js";
import type { GateDeps } from "../app/gate.js";
import { plan } from "../app/plan.js";
import { standby as startStandby } from "../app/standby.js";
import { restore } from "../app/restore.js";
import { restoreCommand } from "../core/restore/options.js";
import type { RestoreResult, StandbyResult } from "../core/restore/restore.js";
import { run as guardedRun, type RunOutcome } from "../app/run.js";

/** The loss: what step 5 planned, now approved and run. */
export const DEMO_LOSS_SQL = "DROP TABLE products CASCADE";
export const DEMO_LOSS_COMMENT = "products moves to the new catalog service";
/** What is restored back into the live database. */
export const DEMO_RESTORE_TABLES = ["public.products"] as const;
export const DEMO_RESTORE_COMMAND = `lifeline restore shop --tables ${DEMO_RESTORE_TABLES.join(",")}`;
/** The standby's database, on the demo's server. */
export const DEMO_STANDBY_DATABASE = "shop_standby";
/** The feed generator's query, and the write a standby refuses. */
export const DEMO_FEED_SQL = "SELECT count(*)::int AS n FROM merchant_feed";
export const DEMO_STANDBY_WRITE_SQL =
  "INSERT INTO orders (customer_email, status, created_at) VALUES ('fallback@example.com', 'new', now())";

/** What the merchant feed generator got from a database. */
export interface FeedCheck {
  ok: boolean;
  rows: number | null;
  error: string | null;
}

export interface DemoRecovery {
  loss: { blocked: RunOutcome; approval: Approval; executed: RunOutcome; seconds: number };
  /** The feed before the loss, right after it, and after the restore. */
  feedBefore: FeedCheck;
  feedBroken: FeedCheck;
  feedAfter: FeedCheck;
  standby: {
    /** The URL dependents point at: without password. */
    url: string;
    seconds: number;
    result: StandbyResult;
    /** The feed generator reading the standby. */
    feed: FeedCheck;
    /** The write into the standby: it must fail. */
    write: { failed: boolean; error: string | null };
  };
  restore: {
    /** The restore's plan through the gate (restoring tables that no longer exist destroys nothing). */
    gate: RunOutcome | null;
    result: RestoreResult;
    seconds: number;
    /** merchant_feed exists again in the live database (it went with CASCADE). */
    viewBack: boolean;
  };
  /** Orders in the live database before the loss and after the restore: untouched. */
  orders: { before: number; after: number };
}

async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
  application = "merchant-feed-generator",
): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: application });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function readFeed(url: string): Promise<FeedCheck> {
  try {
    const rows = await withClient(url, async (c) => (await c.query<{ n: number }>(DEMO_FEED_SQL)).rows[0]?.n);
    return { ok: true, rows: rows ?? 0, error: null };
  } catch (error) {
    return { ok: false, rows: null, error: message(error) };
  }
}

async function countOrders(url: string): Promise<number> {
  return withClient(
    url,
    async (c) => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM orders")).rows[0]?.n ?? 0,
    "lifeline demo",
  );
}

const since = (start: number) => Math.round((performance.now() - start) / 10) / 100;

export async function recoverySteps(input: {
  ctx: AppContext;
  asset: ResolvedAsset;
  manifest: Manifest;
  deps: (who: string) => GateDeps;
  requester: string;
  approver: string;
  source: Target;
  /** Called right after the loss has executed (the demo's watch notices it there). */
  afterLoss?: () => Promise<void>;
}): Promise<DemoRecovery> {
  const { ctx, asset, manifest, deps, source } = input;
  const engine = ctx.engine(asset.engine);
  const feedBefore = await readFeed(source.url);
  const ordersBefore = await countOrders(source.url);

  // The loss: the plan said what goes (products, the merchant_feed view, a foreign key); two people
  // agreed; it runs. The gate does not stop a mistake everyone agrees to: a restore point is the way back.
  ctx.progress.phase(`the loss: ${DEMO_LOSS_SQL}, approved`);
  const lossStarted = performance.now();
  const lossInput = {
    planner: () => plan(ctx, asset, DEMO_LOSS_SQL, { exact: true, policy: DEFAULT_POLICY }),
    document: (p: Plan) => ({ planId: p.planId, verdict: p.verdict, command: p.command }),
    executor: async () => {
      await engine.sql?.execute(engine.target(asset.url), DEMO_LOSS_SQL, ctx.signal);
      return { exitCode: 0 };
    },
    dryRun: false,
  };
  const blocked = await guardedRun(deps(input.requester), lossInput);
  const approval = await approve(deps(input.approver), {
    planId: blocked.plan.planId,
    comment: DEMO_LOSS_COMMENT,
    ttlSeconds: 3600,
  });
  const executed = await guardedRun(deps(input.requester), lossInput);
  const lossSeconds = since(lossStarted);
  await input.afterLoss?.();
  const feedBroken = await readFeed(source.url);

  // The fallback: a read-only copy of the newest verified restore point (as `lifeline standby` makes
  // it), for the services that only read.
  ctx.progress.phase(`starting a standby (${DEMO_STANDBY_DATABASE})`);
  const standbyUrl = new URL(source.url);
  standbyUrl.pathname = "/" + DEMO_STANDBY_DATABASE;
  const standbyTarget = engine.target(standbyUrl.toString());
  const standbyStarted = performance.now();
  const standby = await startStandby(ctx, deps(input.requester), {
    asset,
    to: standbyTarget.url,
    refresh: false,
    jobs: 2,
  });
  const standbySeconds = since(standbyStarted);
  const standbyFeed = await readFeed(standbyTarget.url);
  // The feed generator only reads; anything that writes (here, the shop's checkout) must fail.
  const write = await withClient(
    standbyTarget.url,
    async (c) => {
      try {
        await c.query(DEMO_STANDBY_WRITE_SQL);
        return { failed: false, error: null };
      } catch (error) {
        return { failed: true, error: message(error) };
      }
    },
    "shop-checkout",
  );

  // The recovery: only what was lost, back into the live database, as `lifeline restore --tables`
  // does it (a plan through the gate, the artifacts and tools checked, the tables verified).
  ctx.progress.phase(`restoring ${DEMO_RESTORE_TABLES.join(", ")} into the live database`);
  const restoreStarted = performance.now();
  const outcome = await restore(ctx, deps(input.requester), {
    asset,
    command: restoreCommand(asset.name, {
      tables: DEMO_RESTORE_TABLES.join(","),
      restorePoint: manifest.id,
    }),
    commandText: DEMO_RESTORE_COMMAND,
    policy: DEFAULT_POLICY,
    dryRun: false,
    document: (p: Plan) => ({ planId: p.planId, verdict: p.verdict, command: p.command }),
  });
  const restoreSeconds = since(restoreStarted);
  if (outcome.status !== "restored") {
    throw new Error(
      `the restore of ${DEMO_RESTORE_TABLES.join(", ")} did not run: ${outcome.status}${outcome.gate ? ` (${outcome.gate.status}: ${outcome.gate.detail ?? ""})` : ""}`,
    );
  }
  const viewBack = await withClient(
    source.url,
    async (c) =>
      (await c.query<{ ok: boolean }>("SELECT to_regclass('public.merchant_feed') IS NOT NULL AS ok")).rows[0]
        ?.ok ?? false,
    "lifeline demo",
  );
  const feedAfter = await readFeed(source.url);
  const ordersAfter = await countOrders(source.url);

  return {
    loss: { blocked, approval: approval.approval, executed, seconds: lossSeconds },
    feedBefore,
    feedBroken,
    feedAfter,
    standby: {
      // The command line the demo shows: copied as it is, so no password at all (not even a mask).
      url: withoutPassword(standby.url),
      seconds: standbySeconds,
      result: standby.standby,
      feed: standbyFeed,
      write,
    },
    restore: { gate: outcome.gate, result: outcome.result, seconds: restoreSeconds, viewBack },
    orders: { before: ordersBefore, after: ordersAfter },
  };
}
