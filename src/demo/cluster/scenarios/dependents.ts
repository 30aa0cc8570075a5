/** Workloads elsewhere that depend on the databases: a product feed generator, a marketing CronJob, an analytics report. */
import { ownerRef, type Json, type K8sObject } from "../model.js";
import { configMap, opaqueSecret } from "../builders/cluster.js";
import { hexHash, meta, shortHash, simulatedUid } from "../builders/meta.js";
import { deployment, podFromTemplate, withContainerDefaults } from "../builders/workloads.js";
import { NODE_A, NODE_B, T } from "./names.js";

export function dependentObjects(): K8sObject[] {
  const feedLabels = {
    "app.kubernetes.io/name": "feed-generator",
    "app.kubernetes.io/part-of": "merchant-feeds",
  };
  const reportLabels = { "app.kubernetes.io/name": "reports", "app.kubernetes.io/part-of": "analytics" };
  const exportLabels = {
    "app.kubernetes.io/name": "nightly-export",
    "app.kubernetes.io/part-of": "marketing",
  };

  const cronJob: K8sObject = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta("CronJob", "nightly-export", "marketing", T.marketing, {
      generation: 1,
      labels: exportLabels,
    }),
    spec: {
      concurrencyPolicy: "Forbid",
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { creationTimestamp: null, labels: exportLabels },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { creationTimestamp: null, labels: exportLabels },
            spec: withContainerDefaults({
              restartPolicy: "OnFailure",
              containers: [
                {
                  name: "export",
                  image: "ghcr.io/acme/nightly-export:0.9.2",
                  args: ["--format", "csv", "--to", "s3://acme-marketing-exports/nightly/"],
                  envFrom: [{ configMapRef: { name: "export-db" } }],
                  env: [
                    {
                      name: "PGPASSWORD",
                      valueFrom: { secretKeyRef: { name: "export-db", key: "password" } },
                    },
                  ],
                },
              ],
            }),
          },
        },
      },
      schedule: "0 3 * * *",
      successfulJobsHistoryLimit: 3,
      suspend: false,
    },
    status: { lastScheduleTime: T.exportRun, lastSuccessfulTime: T.exportDone },
  };
  const jobName = "nightly-export-29361780";
  const jobUid = simulatedUid("Job", "marketing", jobName);
  const jobLabels = {
    ...exportLabels,
    "batch.kubernetes.io/controller-uid": jobUid,
    "batch.kubernetes.io/job-name": jobName,
    "controller-uid": jobUid,
    "job-name": jobName,
  };
  const jobTemplate = ((cronJob.spec as Json).jobTemplate as Json).spec as Json;
  const podTemplate = jobTemplate.template as Json;
  const job: K8sObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: meta("Job", jobName, "marketing", T.exportRun, {
      generation: 1,
      labels: jobLabels,
      annotations: { "batch.kubernetes.io/cronjob-scheduled-timestamp": T.exportRun },
      ownerReferences: [ownerRef(cronJob)],
    }),
    spec: {
      backoffLimit: 2,
      completionMode: "NonIndexed",
      completions: 1,
      manualSelector: false,
      parallelism: 1,
      podReplacementPolicy: "TerminatingOrFailed",
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": jobUid } },
      suspend: false,
      template: { metadata: { creationTimestamp: null, labels: jobLabels }, spec: podTemplate.spec },
    },
    status: {
      completionTime: T.exportDone,
      conditions: [
        { type: "Complete", status: "True", lastProbeTime: T.exportDone, lastTransitionTime: T.exportDone },
      ],
      ready: 0,
      startTime: T.exportRun,
      succeeded: 1,
      terminating: 0,
      uncountedTerminatedPods: {},
    },
  };
  const jobPodName = `${jobName}-${shortHash(`pod/${jobName}`, 5)}`;
  const jobPodUid = simulatedUid("Pod", "marketing", jobPodName);
  const jobPod = podFromTemplate({
    owner: job,
    name: jobPodName,
    template: (job.spec as Json).template as Json,
    node: NODE_A,
    ipSuffix: 88,
    created: T.exportRun,
    status: {
      phase: "Succeeded",
      conditions: [
        {
          type: "PodReadyToStartContainers",
          status: "False",
          lastProbeTime: null,
          lastTransitionTime: T.exportDone,
        },
        { type: "Initialized", status: "True", lastProbeTime: null, lastTransitionTime: T.exportRun },
        {
          type: "Ready",
          status: "False",
          reason: "PodCompleted",
          lastProbeTime: null,
          lastTransitionTime: T.exportDone,
        },
        {
          type: "ContainersReady",
          status: "False",
          reason: "PodCompleted",
          lastProbeTime: null,
          lastTransitionTime: T.exportDone,
        },
        { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: T.exportRun },
      ],
      containerStatuses: [
        {
          containerID: `containerd://${hexHash(`container/${jobPodUid}/export`, 64)}`,
          image: "ghcr.io/acme/nightly-export:0.9.2",
          imageID: `ghcr.io/acme/nightly-export@sha256:${hexHash("image/nightly-export", 64)}`,
          lastState: {},
          name: "export",
          ready: false,
          restartCount: 0,
          started: false,
          state: {
            terminated: {
              exitCode: 0,
              reason: "Completed",
              startedAt: "2026-11-26T03:00:04Z",
              finishedAt: "2026-11-26T03:02:39Z",
            },
          },
        },
      ],
    },
  });
  // The job's pod is owned by the Job, not the CronJob.
  jobPod.metadata.generateName = `${jobName}-`;

  return [
    opaqueSecret("feed-db", "feeds", T.feeds, { password: "feed-Pw2xN8kR5t" }, feedLabels),
    ...deployment({
      name: "feed-generator",
      namespace: "feeds",
      created: T.feeds,
      rolledOut: "2026-11-02T09:12:40Z",
      revision: 4,
      replicas: 1,
      labels: feedLabels,
      pods: [{ node: NODE_B, ip: 63 }],
      podSpec: {
        containers: [
          {
            name: "feed-generator",
            image: "ghcr.io/acme/feed-generator:1.8.3",
            args: ["--merchant-platform", "https://merchants.example.com/api/v2/feeds", "--interval", "15m"],
            env: [
              { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "feed-db", key: "password" } } },
              {
                name: "DATABASE_URL",
                value:
                  "postgres://feed:$(DB_PASSWORD)@postgresql-primary.shop.svc.cluster.local:5432/shop?sslmode=disable",
              },
              { name: "FEED_FORMAT", value: "google-merchant-xml" },
            ],
            resources: { requests: { cpu: "50m", memory: "96Mi" } },
          },
        ],
      },
    }),
    configMap(
      "export-db",
      "marketing",
      T.marketing,
      {
        PGHOST: "postgresql-primary.shop.svc",
        PGDATABASE: "shop",
        PGPORT: "5432",
        PGUSER: "marketing_export",
      },
      exportLabels,
    ),
    opaqueSecret("export-db", "marketing", T.marketing, { password: "mkt-Zu4cV1gH7n" }, exportLabels),
    cronJob,
    job,
    jobPod,
    ...deployment({
      name: "reports",
      namespace: "analytics",
      created: T.analytics,
      rolledOut: "2026-10-14T11:05:22Z",
      revision: 2,
      replicas: 1,
      labels: reportLabels,
      pods: [{ node: NODE_B, ip: 71 }],
      podSpec: {
        containers: [
          {
            name: "reports",
            image: "ghcr.io/acme/reports:3.2.0",
            args: [
              "--mongo",
              "mongodb://mongodb-0.mongodb-headless.shop.svc.cluster.local:27017,mongodb-1.mongodb-headless.shop.svc.cluster.local:27017/?replicaSet=rs0",
            ],
            resources: { requests: { cpu: "100m", memory: "256Mi" } },
          },
        ],
      },
    }),
  ];
}
