/**
 * The shared job engine, when the catalog is PostgreSQL: graphile-worker (its own schema,
 * lifeline_worker, in the catalog database) runs the scheduled backups and drills of any number of
 * `lifeline serve` replicas.
 *
 * - Exactly once per fire time: every server's schedule fires, and one statement claims the fire
 *   time and adds the job (graphile-worker's own crontab technique: an upsert of the last fire time
 *   that only one server wins, joined to add_job). lifeline keeps its own timers because its cron
 *   expressions may have seconds (graphile-worker's crontab counts in whole minutes).
 * - An asset's jobs share the graphile-worker queue `lifeline:<asset>`: they run one at a time,
 *   whichever server takes them, so a backup and a drill of one asset never overlap.
 * - A failed job is retried by graphile-worker with its exponential backoff, up to `attempts`; the
 *   last attempt alerts.
 * - A server that dies mid-job: graphile-worker unlocks a job only after 4 hours by itself, so each
 *   server writes a heartbeat (lifeline_jobs.servers) and the others unlock the jobs of a server
 *   silent for `deadAfter` (graphile-worker's forceUnlockWorkers); another server then retries it.
 */
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  Logger,
  makeWorkerUtils,
  run,
  type JobHelpers,
  type Runner,
  type WorkerUtils,
} from "graphile-worker";
import type { JobRequest } from "../../app/scheduled.js";
import { attempt, type JobsOptions, type RunningJobs } from "./runner.js";
import { startSchedules, type Schedule } from "./schedule.js";

export const WORKER_SCHEMA = "lifeline_worker";
const STATE_SCHEMA = "lifeline_jobs";
const TASKS = { backup: "lifeline_backup", drill: "lifeline_drill" } as const;

const queueOf = (asset: string) => `lifeline:${asset}`;

function requestOf(payload: unknown, kind: JobRequest["kind"]): JobRequest | null {
  if (typeof payload !== "object" || payload === null) return null;
  const p = payload as Record<string, unknown>;
  if (typeof p.asset !== "string") return null;
  return {
    kind,
    asset: p.asset,
    ...(typeof p.restorePointId === "string" ? { restorePointId: p.restorePointId } : {}),
  };
}

export interface GraphileJobsOptions extends JobsOptions {
  connectionString: string;
  /** For logs: graphile-worker's own warnings and errors. */
  log: (level: "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;
  pollIntervalMs?: number;
}

export async function startGraphileJobs(options: GraphileJobsOptions): Promise<RunningJobs> {
  const serverId = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  const logger = new Logger(() => (level, message) => {
    if (level === "error" || level === "warning")
      options.log(level === "error" ? "error" : "warn", "job-engine", { message });
  });
  const common = {
    connectionString: options.connectionString,
    schema: WORKER_SCHEMA,
    logger,
    maxPoolSize: Math.max(4, options.concurrency + 2),
  };
  const utils: WorkerUtils = await makeWorkerUtils(common);
  try {
    await utils.migrate();
    await utils.withPgClient((client) =>
      client.query(`
        create schema if not exists ${STATE_SCHEMA};
        create table if not exists ${STATE_SCHEMA}.schedules (
          schedule text primary key,
          last_fire timestamptz not null
        );
        create table if not exists ${STATE_SCHEMA}.servers (
          server_id text primary key,
          worker_ids text[] not null,
          seen_at timestamptz not null
        );`),
    );
  } catch (error) {
    await utils.release();
    throw error;
  }

  const stopping = new AbortController();
  const workerIds = new Set<string>();
  const events = new EventEmitter();
  // Jobs are locked by the pool (its local queue fetches them) or by a worker: both ids are kept.
  events.on("pool:create", ({ workerPool }: { workerPool: { id: string } }) => workerIds.add(workerPool.id));
  events.on("worker:create", ({ worker }: { worker: { workerId: string } }) =>
    workerIds.add(worker.workerId),
  );

  const handler = (kind: JobRequest["kind"]) => async (payload: unknown, helpers: JobHelpers) => {
    const request = requestOf(payload, kind);
    if (!request) {
      helpers.logger.error(`lifeline: job ${helpers.job.id} has no asset in its payload; dropped`);
      return;
    }
    const outcome = await attempt(
      options,
      request,
      stopping.signal,
      helpers.job.attempts,
      helpers.job.max_attempts,
    );
    if (outcome?.kind === "backup" && outcome.drillNext) {
      await helpers.addJob(
        TASKS.drill,
        { asset: request.asset, restorePointId: outcome.restorePointId },
        {
          queueName: queueOf(request.asset),
          jobKey: `lifeline:drill:${request.asset}`,
          maxAttempts: options.attempts,
        },
      );
    }
  };

  const runner: Runner = await run({
    ...common,
    concurrency: options.concurrency,
    noHandleSignals: true,
    pollInterval: options.pollIntervalMs ?? 1_000,
    events: events as never,
    taskList: { [TASKS.backup]: handler("backup"), [TASKS.drill]: handler("drill") },
  });

  const heartbeat = async () => {
    await utils.withPgClient(async (client) => {
      await client.query(
        `insert into ${STATE_SCHEMA}.servers (server_id, worker_ids, seen_at) values ($1, $2, now())
         on conflict (server_id) do update set worker_ids = excluded.worker_ids, seen_at = now()`,
        [serverId, [...workerIds]],
      );
      const dead = await client.query<{ server_id: string; worker_ids: string[] }>(
        // Never itself: a server late with its own heartbeat must not unlock the jobs it runs.
        `delete from ${STATE_SCHEMA}.servers
         where seen_at < now() - make_interval(secs => $1) and server_id <> $2
         returning server_id, worker_ids`,
        [options.deadAfterSeconds, serverId],
      );
      for (const row of dead.rows) {
        if (row.worker_ids.length > 0) await utils.forceUnlockWorkers(row.worker_ids);
        options.log("warn", "server-dead", {
          server: row.server_id,
          silentFor: `${options.deadAfterSeconds}s`,
          action: "its jobs were unlocked; another server retries them",
        });
      }
    });
  };
  const beat = () =>
    heartbeat().catch((error: unknown) =>
      options.log("warn", "heartbeat-failed", {
        reason: error instanceof Error ? error.message : String(error),
      }),
    );
  await beat();
  const beating = setInterval(() => void beat(), Math.max(250, (options.deadAfterSeconds * 1000) / 4));

  const fire = (s: Schedule, at: Date) => {
    const request: JobRequest = { kind: s.kind, asset: s.asset };
    utils
      .withPgClient((client) =>
        client.query<{ id: string | null }>(
          `with claim as (
             insert into ${STATE_SCHEMA}.schedules as s (schedule, last_fire) values ($1, $2)
             on conflict (schedule) do update set last_fire = excluded.last_fire
             where s.last_fire < excluded.last_fire
             returning 1)
           select (${WORKER_SCHEMA}.add_job($3, $4::json, queue_name => $5, max_attempts => $6,
                   job_key => $7)).id
           from claim`,
          [
            `${s.asset}:${s.kind}`,
            at.toISOString(),
            TASKS[s.kind],
            JSON.stringify({ asset: s.asset, fireAt: at.toISOString() }),
            queueOf(s.asset),
            options.attempts,
            `lifeline:${s.kind}:${s.asset}`,
          ],
        ),
      )
      .then((result) => {
        if (result.rows.length > 0)
          options.log("info", "job-scheduled", {
            ...request,
            fireAt: at.toISOString(),
            job: result.rows[0]?.id,
          });
      })
      .catch((error: unknown) =>
        options.log("error", "schedule-failed", {
          ...request,
          fireAt: at.toISOString(),
          reason: error instanceof Error ? error.message : String(error),
        }),
      );
  };
  const stopSchedules = startSchedules(options.schedules, fire);

  return {
    engine: "graphile-worker",
    async queueDepth() {
      const rows = await utils.withPgClient((client) =>
        client.query<{ queue_name: string; n: string }>(
          `select queue_name, count(*) as n from ${WORKER_SCHEMA}.jobs
           where queue_name like 'lifeline:%' and attempts < max_attempts group by queue_name`,
        ),
      );
      const depth = new Map<string, number>([...options.assets.keys()].map((a) => [a, 0]));
      for (const r of rows.rows) {
        const asset = r.queue_name.slice("lifeline:".length);
        if (depth.has(asset)) depth.set(asset, Number(r.n));
      }
      return depth;
    },
    async stop() {
      stopSchedules();
      clearInterval(beating);
      // Running jobs are interrupted (their backup removes what it staged) and retried elsewhere.
      stopping.abort();
      await runner.stop().catch(() => undefined);
      await utils
        .withPgClient((client) =>
          client.query(`delete from ${STATE_SCHEMA}.servers where server_id = $1`, [serverId]),
        )
        .catch(() => undefined);
      await utils.release();
    },
  };
}
