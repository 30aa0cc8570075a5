import type { ClusterSession } from "../../demo/cluster-session.js";

/** The service reference as kubectl users write it: namespace/name, and the port when not 443. */
function serviceLabel(service: string): string {
  return service.endsWith(":443") ? service.slice(0, -4) : service;
}

/** The port in a base URL (the default port of its scheme when it names none). */
function urlListen(url: string): string {
  const u = new URL(url);
  return `${u.hostname.replace(/^\[|\]$/g, "")}:${u.port || "443"}`;
}

/** What `lifeline demo cluster` prints once the server is ready: what it is, what to export, what to try. */
export function renderClusterSession(s: ClusterSession): string {
  const claim = s.claims.names.find((n) => n.includes("primary")) ?? s.claims.names[0] ?? "NAME";
  const ns = s.claims.namespace;
  const [serviceNs] = s.webhook.service.split("/");
  const removed =
    s.removedOnStop === "directory"
      ? "removed with its directory when this stops"
      : "removed when this stops; the directory is kept";
  return [
    `lifeline demo cluster — a SIMULATED Kubernetes API server (not a real cluster): ${s.server}`,
    "",
    `  objects      the demo's incident scenario, in memory (namespaces ${s.namespaces.join(", ")}); every start begins again from it`,
    `  kubeconfig   ${s.kubeconfig} (context "${s.context}", a token and the server's CA; ${removed})`,
    `  webhook      the Service ${serviceLabel(s.webhook.service)} (what lifeline k8s install creates) is reached at ${s.webhook.url}`,
    "  not modelled pods do not run; deletions are immediate (no finalizers); one token, allowed everything",
    "",
    "In another terminal:",
    `  export KUBECONFIG=${s.kubeconfig}`,
    `  kubectl get pvc -n ${ns}`,
    `  lifeline plan -- kubectl delete pvc ${claim} -n ${ns}`,
    "  lifeline k8s scan",
    "",
    "The admission webhook (lifeline serve, on this machine):",
    `  lifeline k8s install${serviceNs === "lifeline" ? "" : ` -n ${serviceNs}`} > lifeline-webhook.yaml && kubectl create -f lifeline-webhook.yaml`,
    `  kubectl -n ${serviceNs} get secret lifeline-tls -o jsonpath='{.data.tls\\.crt}' | base64 -d > tls.crt`,
    `  kubectl -n ${serviceNs} get secret lifeline-tls -o jsonpath='{.data.tls\\.key}' | base64 -d > tls.key`,
    `  printf 'assets: {}\\n' > lifeline.yaml`,
    `  lifeline serve --tls-cert tls.crt --tls-key tls.key --listen ${urlListen(s.webhook.url)}`,
    `  kubectl delete pvc ${claim} -n ${ns}      # denied by lifeline serve (while it is stopped: failed calling webhook)`,
    "",
    `ready: ${s.server} — Ctrl-C or SIGTERM stops it`,
  ].join("\n");
}

/** The start-up document of `lifeline demo cluster --json`. */
export function clusterSessionJson(s: ClusterSession) {
  return {
    simulated: true,
    server: s.server,
    kubeconfig: s.kubeconfig,
    context: s.context,
    dir: s.dir,
    removedOnStop: s.removedOnStop,
    webhook: s.webhook,
    namespaces: s.namespaces,
    claims: s.claims,
  };
}
