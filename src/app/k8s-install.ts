/**
 * `lifeline k8s install`: the objects that run `lifeline serve` in a cluster as the validating
 * admission webhook — namespace, service account, the least RBAC it needs, the starter
 * configuration, TLS, the Deployment and Service, and the ValidatingWebhookConfiguration.
 *
 * The configuration: a ConfigMap `lifeline-config` holds a starter `lifeline.yaml` (mounted at
 * /etc/lifeline, LIFELINE_CONFIG points at it) that the user edits; its `catalog` is
 * `${LIFELINE_CATALOG_URL}`, read from the Secret `lifeline-catalog` (key `url`) that the user
 * creates (it holds a password, so lifeline never writes it).
 */
import { LifelineError } from "../core/errors.js";
import { CATALOG_SECRET, CONFIG_MAP, DEFAULT_IMAGE, NAME, TLS_SECRET } from "./k8s-install-names.js";
import { generateCa, issueServerCertificate } from "../support/tls.js";
import {
  objectLabel,
  type CreateObject,
  type CreateOutcome,
  type InstallObject,
  type ReadObject,
} from "../ports/installer.js";

export { objectLabel, type InstallObject };

export interface InstallOptions {
  namespace: string;
  image: string;
  replicas: number;
  certManager: boolean;
}

export { CATALOG_SECRET, CONFIG_MAP, DEFAULT_IMAGE, NAME, TLS_SECRET };
const PORT = 8443;

/** What `planCommand` lists (src/kubernetes/cluster.ts `inventory`) and `lifeline serve` watches (informer-cache.ts), by API group. */
export const READ_RESOURCES: readonly { apiGroup: string; resources: string[] }[] = [
  {
    apiGroup: "",
    resources: [
      "namespaces",
      "nodes",
      "persistentvolumeclaims",
      "persistentvolumes",
      "pods",
      "services",
      "configmaps",
      "secrets",
    ],
  },
  { apiGroup: "apps", resources: ["statefulsets", "deployments", "daemonsets", "replicasets"] },
  { apiGroup: "batch", resources: ["jobs", "cronjobs"] },
  { apiGroup: "storage.k8s.io", resources: ["storageclasses"] },
  { apiGroup: "snapshot.storage.k8s.io", resources: ["volumesnapshots"] },
];

const STARTER_CONFIG = `# lifeline.yaml for the admission webhook: edit it (kubectl -n NAMESPACE edit configmap ${CONFIG_MAP})
# and restart the Deployment (kubectl -n NAMESPACE rollout restart deployment ${NAME}).
# The catalog is shared with the CLI, so approvals, break-glass grants and the audit log are the same;
# its URL comes from the Secret ${CATALOG_SECRET} (key url), never from this file.
catalog: \${LIFELINE_CATALOG_URL}
# The assets as in your lifeline.yaml, with their kubernetes: binding. Until one is listed, no volume's
# data belongs to an asset: the webhook judges it all as unbound data (by default, destroying it needs
# one approval: lifeline run), and lifeline serve says so in its log. E.g.:
# assets:
#   shop:
#     engine: postgres
#     url: postgres://app:\${SHOP_DB_PASSWORD}@postgresql.shop.svc:5432/shop
#     tier: production
#     kubernetes: { namespace: shop, release: postgresql }
assets: {}
# Who your people are at the Kubernetes API (what \`kubectl auth whoami\` shows), for break-glass. E.g.:
# identities:
#   alice@acme.com:
#     kubernetes: { users: [alice@acme.com], groups: [sre] }
serve:
  listen: 0.0.0.0:${PORT}
  tls: { cert: /tls/tls.crt, key: /tls/tls.key }
`;

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function validateInstallOptions(options: InstallOptions): void {
  if (!NAME_RE.test(options.namespace) || options.namespace.length > 63) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--namespace: "${options.namespace}" is not a valid namespace name`,
      fix: "use lower-case letters, digits and '-', at most 63 characters, e.g. --namespace lifeline",
    });
  }
  if (!Number.isInteger(options.replicas) || options.replicas < 1 || options.replicas > 100) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--replicas: "${String(options.replicas)}" is not a whole number from 1 to 100`,
      fix: "e.g. --replicas 2 (two keep deletions possible while one restarts)",
    });
  }
  if (options.image.trim() === "" || /\s/.test(options.image)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--image: "${options.image}" is not an image reference`,
      fix: "e.g. --image registry.example.com/lifeline:0.1.0 (built from the Dockerfile)",
    });
  }
}

/** The objects in the order they must be created. */
export function installObjects(options: InstallOptions): InstallObject[] {
  validateInstallOptions(options);
  const ns = options.namespace;
  const labels = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/managed-by": "lifeline" };
  const serviceHost = `${NAME}.${ns}.svc`;
  const m = (name: string, namespaced: boolean, extra: Record<string, unknown> = {}) => ({
    name,
    ...(namespaced ? { namespace: ns } : {}),
    labels: { ...labels },
    ...extra,
  });

  const objects: InstallObject[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: m(ns, false) },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: m(NAME, true) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: m(NAME, false),
      rules: [
        ...READ_RESOURCES.map((r) => ({
          apiGroups: [r.apiGroup],
          resources: [...r.resources],
          verbs: ["get", "list", "watch"],
        })),
        { apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], verbs: ["create"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: m(NAME, false),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: m(CONFIG_MAP, true),
      data: { "lifeline.yaml": STARTER_CONFIG.replaceAll("NAMESPACE", ns) },
    },
  ];

  let caBundle: string | null = null;
  if (options.certManager) {
    objects.push(
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Issuer",
        metadata: m(`${NAME}-selfsigned`, true),
        spec: { selfSigned: {} },
      },
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: m(`${NAME}-ca`, true),
        spec: {
          isCA: true,
          commonName: "lifeline CA",
          secretName: `${NAME}-ca`,
          privateKey: { algorithm: "ECDSA", size: 256 },
          issuerRef: { name: `${NAME}-selfsigned`, kind: "Issuer" },
        },
      },
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Issuer",
        metadata: m(`${NAME}-ca`, true),
        spec: { ca: { secretName: `${NAME}-ca` } },
      },
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: m(NAME, true),
        spec: {
          secretName: TLS_SECRET,
          dnsNames: [serviceHost, `${serviceHost}.cluster.local`],
          privateKey: { algorithm: "ECDSA", size: 256 },
          issuerRef: { name: `${NAME}-ca`, kind: "Issuer" },
        },
      },
    );
  } else {
    const ca = generateCa({ commonName: `lifeline webhook CA (${ns})` });
    const serving = issueServerCertificate(
      ca,
      [serviceHost, `${NAME}.${ns}`, `${serviceHost}.cluster.local`],
      {
        commonName: serviceHost,
      },
    );
    caBundle = Buffer.from(ca.cert).toString("base64");
    objects.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: m(TLS_SECRET, true),
      type: "kubernetes.io/tls",
      data: {
        "tls.crt": Buffer.from(serving.cert).toString("base64"),
        "tls.key": Buffer.from(serving.key).toString("base64"),
        "ca.crt": caBundle,
      },
    });
  }

  const podLabels = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "webhook" };
  const probe = (path: string, period: number) => ({
    httpGet: { path, port: "https", scheme: "HTTPS" },
    periodSeconds: period,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  objects.push(
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: m(NAME, true),
      spec: {
        replicas: options.replicas,
        selector: { matchLabels: podLabels },
        template: {
          metadata: { labels: { ...podLabels } },
          spec: {
            serviceAccountName: NAME,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 10001,
              runAsGroup: 10001,
              fsGroup: 10001,
              seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
              {
                name: NAME,
                image: options.image,
                args: [
                  "--tls-cert",
                  "/tls/tls.crt",
                  "--tls-key",
                  "/tls/tls.key",
                  "--listen",
                  `0.0.0.0:${PORT}`,
                  // Answers for 5 s after SIGTERM while the pod leaves the Service's endpoints
                  // (within the default 30 s grace period): a rollout refuses no deletion.
                  "--shutdown-delay",
                  "5",
                ],
                env: [
                  { name: "LIFELINE_CONFIG", value: "/etc/lifeline/lifeline.yaml" },
                  {
                    name: "LIFELINE_CATALOG_URL",
                    valueFrom: { secretKeyRef: { name: CATALOG_SECRET, key: "url" } },
                  },
                ],
                ports: [{ name: "https", containerPort: PORT, protocol: "TCP" }],
                readinessProbe: probe("/readyz", 5),
                livenessProbe: { ...probe("/healthz", 10), initialDelaySeconds: 5 },
                resources: {
                  requests: { cpu: "50m", memory: "128Mi" },
                  limits: { cpu: "500m", memory: "512Mi" },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
                volumeMounts: [
                  { name: "tls", mountPath: "/tls", readOnly: true },
                  { name: "config", mountPath: "/etc/lifeline", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "tls", secret: { secretName: TLS_SECRET } },
              { name: "config", configMap: { name: CONFIG_MAP } },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: m(NAME, true),
      spec: {
        selector: { ...podLabels },
        ports: [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: m(
        NAME,
        false,
        options.certManager ? { annotations: { "cert-manager.io/inject-ca-from": `${ns}/${NAME}` } } : {},
      ),
      webhooks: [
        {
          name: "deletions.lifeline.dev",
          admissionReviewVersions: ["v1"],
          failurePolicy: "Fail",
          sideEffects: "NoneOnDryRun",
          timeoutSeconds: 10,
          matchPolicy: "Equivalent",
          namespaceSelector: {
            matchExpressions: [
              { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", ns] },
            ],
          },
          rules: [
            {
              operations: ["DELETE"],
              apiGroups: [""],
              apiVersions: ["v1"],
              resources: ["persistentvolumeclaims", "persistentvolumes", "namespaces"],
            },
            {
              operations: ["UPDATE"],
              apiGroups: [""],
              apiVersions: ["v1"],
              resources: ["persistentvolumes"],
            },
            {
              operations: ["DELETE", "UPDATE"],
              apiGroups: ["apps"],
              apiVersions: ["v1"],
              resources: ["statefulsets"],
            },
          ],
          clientConfig: {
            service: { namespace: ns, name: NAME, path: "/validate", port: 443 },
            ...(caBundle ? { caBundle } : {}),
          },
        },
      ],
    },
  );
  return objects;
}

/**
 * The cluster-wide objects of an install (ClusterRoleBinding, ValidatingWebhookConfiguration) have
 * fixed names: one install per cluster. When they already exist for an install in another
 * namespace, creating the rest would leave the new service account without its binding and the
 * webhook calling the other namespace's Service, with nothing said. The namespaces found, or none.
 */
export function otherInstall(
  objects: readonly InstallObject[],
  existing: readonly (InstallObject | null)[],
  namespace: string,
): { namespace: string; objects: string[] } | null {
  const found = new Map<string, string[]>();
  const note = (ns: unknown, o: InstallObject) => {
    if (typeof ns !== "string" || ns === namespace) return;
    found.set(ns, [...(found.get(ns) ?? []), objectLabel(o)]);
  };
  objects.forEach((o, i) => {
    const e = existing[i];
    if (!e) return;
    if (o.kind === "ClusterRoleBinding") {
      const subjects = Array.isArray(e.subjects)
        ? (e.subjects as { kind?: unknown; namespace?: unknown }[])
        : [];
      for (const s of subjects) if (s.kind === "ServiceAccount") note(s.namespace, o);
    }
    if (o.kind === "ValidatingWebhookConfiguration") {
      const hooks = Array.isArray(e.webhooks)
        ? (e.webhooks as { clientConfig?: { service?: { namespace?: unknown } } }[])
        : [];
      for (const h of hooks) note(h.clientConfig?.service?.namespace, o);
    }
  });
  const [first] = [...found];
  return first ? { namespace: first[0], objects: [...new Set(first[1])] } : null;
}

/** Refuses, before anything is created, an install beside another namespace's (see otherInstall). */
export async function checkNoOtherInstall(
  objects: readonly InstallObject[],
  read: ReadObject,
  namespace: string,
  context: string,
): Promise<void> {
  const clusterWide = objects.filter(
    (o) => o.kind === "ClusterRoleBinding" || o.kind === "ValidatingWebhookConfiguration",
  );
  const existing = await Promise.all(clusterWide.map((o) => read(o)));
  const other = otherInstall(clusterWide, existing, namespace);
  if (!other) return;
  throw new LifelineError({
    code: "K8S_OTHER_INSTALL",
    kind: "usage",
    message: `lifeline is already installed in namespace "${other.namespace}" on context "${context}" (${other.objects.join(", ")} name it); its cluster-wide objects have fixed names, so there is one install per cluster; nothing was created`,
    fix: `keep that install (lifeline k8s install -n ${other.namespace} --apply), or remove it first: lifeline k8s install -n ${other.namespace} | kubectl delete --ignore-not-found -f -`,
  });
}

/**
 * The webhook's certificate (Secret lifeline-tls) and the CA the API server trusts for it (the
 * caBundle of the ValidatingWebhookConfiguration) are made together, and an object that exists is
 * kept, not replaced: when an earlier install left one of them (a namespace deleted, the
 * configuration deleted by hand), creating the other anew would pair a certificate with a CA that
 * did not sign it, and with failurePolicy Fail every deletion the webhook judges would be refused.
 * The Secret left: the new configuration trusts its CA (the objects returned). The configuration
 * left without its Secret, or the two not matching: refused before anything is created.
 */
export async function matchWebhookTls(
  objects: readonly InstallObject[],
  read: ReadObject,
  namespace: string,
): Promise<InstallObject[]> {
  const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === TLS_SECRET);
  const config = objects.find((o) => o.kind === "ValidatingWebhookConfiguration");
  // Under cert-manager, cert-manager keeps the two matching.
  if (!secret || !config) return [...objects];
  const [hasSecret, hasConfig] = await Promise.all([read(secret), read(config)]);
  const caOf = (s: InstallObject | null) => {
    const data = s?.data as Record<string, unknown> | undefined;
    return typeof data?.["ca.crt"] === "string" ? data["ca.crt"] : null;
  };
  const bundlesOf = (c: InstallObject) =>
    (Array.isArray(c.webhooks) ? (c.webhooks as { clientConfig?: { caBundle?: unknown } }[]) : []).map(
      (h) => h.clientConfig?.caBundle,
    );
  const refuse = (why: string) =>
    new LifelineError({
      code: "K8S_INSTALL_TLS_MISMATCH",
      kind: "usage",
      message: `${why}: the API server would not trust the webhook's certificate, and with failurePolicy Fail every deletion the webhook judges would be refused; nothing was created`,
      fix: `delete what is left so that both are made again, matching: kubectl delete validatingwebhookconfiguration ${config.metadata.name}${hasSecret ? ` && kubectl -n ${namespace} delete secret ${TLS_SECRET}` : ""}; then run again`,
    });
  if (hasConfig && !hasSecret)
    throw refuse(
      `the ValidatingWebhookConfiguration ${config.metadata.name} is left from an earlier install, but not its Secret ${TLS_SECRET} in namespace ${namespace}: a new certificate would not match the CA the configuration names`,
    );
  if (!hasSecret) return [...objects];
  const ca = caOf(hasSecret);
  if (hasConfig) {
    if (ca === null || bundlesOf(hasConfig).some((b) => b !== ca))
      throw refuse(
        `the ValidatingWebhookConfiguration ${config.metadata.name} and the Secret ${TLS_SECRET} in namespace ${namespace} exist, but the configuration's caBundle is not the CA of the Secret's certificate`,
      );
    return [...objects];
  }
  if (ca === null)
    throw refuse(
      `the Secret ${TLS_SECRET} in namespace ${namespace} is left from an earlier install, without the ca.crt the new ValidatingWebhookConfiguration ${config.metadata.name} would trust`,
    );
  // The Secret is kept: the configuration created now trusts the CA of its certificate.
  return objects.map((o) =>
    o !== config
      ? o
      : {
          ...o,
          webhooks: (o.webhooks as { clientConfig: Record<string, unknown> }[]).map((h) => ({
            ...h,
            clientConfig: { ...h.clientConfig, caBundle: ca },
          })),
        },
  );
}

export interface ApplyResult {
  object: string;
  outcome: CreateOutcome;
}

/** Creates the objects in order (dependencies first); stops at the first error. */
export async function applyInstall(
  objects: readonly InstallObject[],
  create: CreateObject,
  onEach: (r: ApplyResult) => void = () => {},
): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  for (const o of objects) {
    const r = { object: objectLabel(o), outcome: await create(o) };
    results.push(r);
    onEach(r);
  }
  return results;
}
