/**
 * The names `lifeline k8s install` gives its objects, apart from src/app/k8s-install.ts: the CLI
 * shows them in its help, and every command would otherwise load what install alone needs (the
 * X.509 code of src/support/tls.ts, about half of the CLI's largest chunk).
 */
export const DEFAULT_IMAGE = "ghcr.io/lifeline/lifeline:latest";
export const NAME = "lifeline";
export const CONFIG_MAP = "lifeline-config";
export const CATALOG_SECRET = "lifeline-catalog";
export const TLS_SECRET = "lifeline-tls";
