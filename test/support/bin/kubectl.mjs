/* global process */
// A stand-in for kubectl in end-to-end tests (there is no kubectl and no cluster on the development
// machine): it understands `delete pvc|pv|sts NAME… -n NS` and talks to the cluster in KUBECONFIG
// (the simulated one) through @kubernetes/client-node, printing what kubectl prints.
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";

const args = process.argv.slice(2);
let namespace = "default";
const rest = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "-n" || a === "--namespace") namespace = args[++i];
  else if (a.startsWith("-n") && a.length > 2) namespace = a.slice(2);
  else if (a.startsWith("--namespace=")) namespace = a.slice("--namespace=".length);
  else rest.push(a);
}
const [verb, type, ...names] = rest;
if (verb !== "delete" || !type || names.length === 0) {
  process.stderr.write(`kubectl (test stand-in): only "delete TYPE NAME… -n NS" is supported\n`);
  process.exit(2);
}
const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
let failed = false;
for (const name of names) {
  try {
    if (type === "pvc" || type === "persistentvolumeclaim") {
      await core.deleteNamespacedPersistentVolumeClaim({ name, namespace });
      process.stdout.write(`persistentvolumeclaim "${name}" deleted\n`);
    } else if (type === "pv" || type === "persistentvolume") {
      await core.deletePersistentVolume({ name });
      process.stdout.write(`persistentvolume "${name}" deleted\n`);
    } else if (type === "sts" || type === "statefulset") {
      await apps.deleteNamespacedStatefulSet({ name, namespace });
      process.stdout.write(`statefulset.apps "${name}" deleted\n`);
    } else {
      process.stderr.write(`kubectl (test stand-in): unsupported type ${type}\n`);
      process.exit(2);
    }
  } catch (error) {
    failed = true;
    const code = error && typeof error === "object" && "code" in error ? error.code : "";
    process.stderr.write(
      `Error from server (${code === 404 ? "NotFound" : code}): ${type} "${name}" not deleted\n`,
    );
  }
}
process.exit(failed ? 1 : 0);
