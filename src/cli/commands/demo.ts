import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { EXIT_CODES } from "../../core/errors.js";
import { out, json, terminalProgress } from "../io.js";

export function register(program: Command, env: CliEnv): void {
  const demo = program
    .command("demo")
    .description(
      "Run the main job on an embedded PostgreSQL: a small shop database, a restore point, a drill, the status, a plan, the gate; then a table lost and recovered (a standby, the table restored). Cleans up after itself.",
    )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  lifeline demo\n  lifeline demo cluster    # a simulated Kubernetes API server to try kubectl, lifeline k8s and lifeline serve on\n",
    )
    .action(async (_opts, command: Command) => {
      const options = env.globals(command);
      // Loaded on use: the demo brings the simulated cluster and the Kubernetes client.
      const [{ demo }, { renderDemo }] = await Promise.all([
        import("../../demo/demo.js"),
        import("../render/demo.js"),
      ]);
      const result = await demo({ signal: env.signal, progress: terminalProgress("demo") });
      if (options.json) json(result.json);
      else out(renderDemo(result));
      // Every step counts: a drill that fails, a run that fails, a chain that breaks.
      if (!result.ok) env.setExit(EXIT_CODES.verification);
    });

  demo
    .command("cluster")
    .description(
      "Start a simulated Kubernetes API server (HTTPS, its own CA; not a real cluster: no nodes, no containers) holding the demo's incident scenario, write a kubeconfig for it, and keep running until Ctrl-C or SIGTERM. Lets you try kubectl, lifeline plan/run -- kubectl, lifeline k8s and lifeline serve as its admission webhook without Kubernetes.",
    )
    .option("--port <n>", "port on 127.0.0.1 (default: any free port)")
    .option(
      "--dir <dir>",
      "write the kubeconfig here (created if missing; the kubeconfig is removed at stop, the directory kept). Default: a new temporary directory, removed at stop",
    )
    .option(
      "--webhook-url <url>",
      "where the webhook Service (lifeline k8s install's) is reached: where lifeline serve listens",
      "https://127.0.0.1:8443",
    )
    .option(
      "--webhook-service <ns/name:port>",
      "the Service a ValidatingWebhookConfiguration refers to that --webhook-url stands for",
      "lifeline/lifeline:443",
    )
    .option("--json", "print one JSON document on stdout once it is ready (server, kubeconfig, …)")
    .addHelpText(
      "after",
      `
Examples:
  lifeline demo cluster                       # then, in another terminal, the export it prints
  lifeline demo cluster --port 6443 --dir ~/lifeline-cluster
  lifeline demo cluster --json | jq -r .kubeconfig

Then:
  export KUBECONFIG=<the kubeconfig it prints>
  kubectl get pvc -n shop
  lifeline plan -- kubectl delete pvc data-postgresql-primary-0 -n shop
  lifeline k8s install | kubectl create -f -  # its webhook Service is reached at --webhook-url

What is simulated: the API server only (objects in memory, back to the scenario at every start;
deletions immediate, no finalizers; one token allowed everything). Pods do not run.

Exit codes: 0 stopped by Ctrl-C or SIGTERM; 1 could not start (port in use, directory not
writable); 2 usage error.
`,
    )
    .action(
      async (
        opts: { port?: string; dir?: string; webhookUrl: string; webhookService: string },
        command: Command,
      ) => {
        const options = env.globals(command);
        const [{ startClusterSession, parsePort }, { renderClusterSession, clusterSessionJson }] =
          await Promise.all([import("../../demo/cluster-session.js"), import("../render/demo-cluster.js")]);
        const session = await startClusterSession({
          ...(opts.port !== undefined ? { port: parsePort(opts.port) } : {}),
          ...(opts.dir !== undefined ? { dir: opts.dir } : {}),
          webhookUrl: opts.webhookUrl,
          webhookService: opts.webhookService,
        });
        try {
          if (options.json) json(clusterSessionJson(session));
          else out(renderClusterSession(session));
          await stopped(env.signal);
        } finally {
          await session.stop();
        }
      },
    );
}

function stopped(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
