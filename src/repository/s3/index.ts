/**
 * A repository in S3-compatible object storage, the same layout as a local one (self-describing:
 * everything needed to list, check and restore is in the bucket):
 *
 *   <prefix>/lifeline-repository.json
 *   <prefix>/restore-points/<asset>/<id>/dump/…           artifacts, object metadata sha256
 *   <prefix>/restore-points/<asset>/<id>/manifest.json    written last: the restore point exists from then on
 *   <prefix>/staging/<asset>/<id>.json                    a backup in progress (host, pid, heartbeat); deleted
 *                                                          after the manifest, or with the partial objects by the
 *                                                          next backup once its writer is gone
 *                                                          (removing: true: a removal by retention, finished by
 *                                                          the next backup or removal once its process is gone)
 *   <prefix>/holds/<asset>/<id>/<host>-<pid>-<hex>.json  a drill, restore or standby reads that restore point
 *   <prefix>/drills/<asset>/<restore point id>/<drill id>.json
 *   <prefix>/index/<asset>.json                           cache of what posture needs
 *
 * There is no rename in object storage: the manifest is the commit. A restore point directory
 * without a manifest and without a staging marker is damaged, as in a local repository.
 *
 * The index is compared with a listing of the restore point and drill report names on every read
 * (one request per 1,000 names, no manifest read) and brought up to date by reading only what it
 * lacks: concurrent writers without locks lose nothing, the next reader adds what one overwrote.
 */
import { drillFactsOf } from "../../core/posture/posture.js";
import { assetOverview } from "../overview.js";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as z from "zod";
import type { DrillReport } from "../../core/drill/drill.js";
import { DRILL_ID } from "../../core/drill/drill.js";
import {
  LifelineError,
  inUse,
  restorePointDamaged,
  restorePointGone,
  restorePointLocked,
} from "../../core/errors.js";
import { checkArtifacts, type Finding, type ObservedFile } from "../../core/restore-point/check.js";
import {
  RESTORE_POINT_ID,
  canonicalJson,
  restorePointIdTime,
  totalArtifactBytes,
  type Manifest,
} from "../../core/restore-point/restore-point.js";
import { drillReportSchema } from "../../core/restore-point/schemas.js";
import type {
  AssetOverview,
  DamagedDrillReport,
  CheckOptions,
  CheckResult,
  FetchOptions,
  LocalArtifacts,
  Repository,
  StagedRestorePoint,
} from "../../ports/repository.js";
import { isPidAlive } from "../../support/files.js";
import {
  ChunkAuthenticationError,
  ObjectCipher,
  encryptedSize,
  keyFileSchema,
  newMasterKey,
  type KeyFile,
  unwrapKey,
  wrapKey,
  wrongPassphrase,
} from "../encryption.js";
import {
  manifestText,
  parseJson,
  parseManifest,
  sha256,
  type Parsed,
  type ManifestRead,
} from "../manifest-text.js";
import {
  ObjectStore,
  bounded,
  type BucketLock,
  type ObjectVersion,
  type Retention,
  type S3Location,
  type StoreTimeouts,
} from "./store.js";

const MARKER = "lifeline-repository.json";
const RESTORE_POINTS = "restore-points";
const STAGING = "staging";
const DRILLS = "drills";
const INDEX = "index";
const MANIFEST = "manifest.json";
const KEYS = "keys";

const markerSchema = z.object({
  kind: z.literal("lifeline-repository"),
  format: z.literal(1),
  encryption: z
    .object({
      scheme: z.literal("aes-256-gcm-chunked"),
      chunkSize: z.number(),
      /** keyId(master key): which master key the repository's objects are encrypted with. */
      keyId: z.string().optional(),
    })
    .optional(),
});
/** Transfers at a time (an artifact above 8 MiB is uploaded in parts, 4 at a time). */
const PARALLEL = 4;
/** A staging marker not refreshed for this long is abandoned (S3 refuses requests signed 15 min off). */
const ABANDONED_MS = 15 * 60_000;
const HEARTBEAT_MS = 60_000;

/** A backup in progress, or (removing: true) a restore point being removed by retention. */
const stagingSchema = z.object({
  host: z.string(),
  pid: z.number(),
  startedAt: z.string(),
  at: z.string(),
  removing: z.boolean().optional(),
});
/** A drill, restore or standby reading a restore point: retention leaves it alone (holds/<asset>/<id>/…). */
const holdSchema = z.object({ host: z.string(), pid: z.number(), purpose: z.string(), at: z.string() });
const HOLDS = "holds";

/**
 * 2: damagedDrills lists the drill report objects that do not read (retention keeps their restore
 * points). A format-1 index (which left them out) is not read: it is rebuilt.
 */
const INDEX_FORMAT = 2;

const indexSchema = z.object({
  kind: z.literal("lifeline-index"),
  format: z.literal(INDEX_FORMAT),
  asset: z.string(),
  restorePoints: z.array(
    z.object({
      id: z.string(),
      snapshotTime: z.string(),
      bytes: z.number(),
      manifestDigest: z.string().nullable(),
      protected: z.boolean(),
      damaged: z.string().nullable(),
    }),
  ),
  drills: z.array(
    z.object({
      key: z.string(),
      id: z.string(),
      restorePointId: z.string(),
      result: z.enum(["passed", "failed"]),
      finishedAt: z.string(),
      restoreSeconds: z.number(),
      verifySeconds: z.number(),
    }),
  ),
  /** Drill report objects that do not read: what their drills found is unknown. */
  damagedDrills: z.array(z.object({ restorePointId: z.string(), id: z.string(), path: z.string() })),
  digest: z.string(),
});
type IndexFile = z.infer<typeof indexSchema>;
type IndexEntry = IndexFile["restorePoints"][number];
type IndexDrill = IndexFile["drills"][number];

/** Local temporary directories of uploads and downloads whose process is gone (killed). */
async function removeAbandonedTemporary(): Promise<void> {
  const names = await readdir(os.tmpdir()).catch(() => []);
  for (const name of names) {
    const m = /^lifeline-(?:upload|download)-(\d+)-/.exec(name);
    if (m && !isPidAlive(Number(m[1])))
      await rm(path.join(os.tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function seal(index: Omit<IndexFile, "digest">): IndexFile {
  const body: Record<string, unknown> = { ...index };
  delete body.digest;
  return { ...index, digest: `sha256:${sha256(canonicalJson(body))}` };
}

const rpPrefix = (asset: string, id: string) => `${RESTORE_POINTS}/${asset}/${id}/`;

/** Names a master key without revealing it (in the marker: the key the objects are encrypted with). */
const keyId = (master: Buffer) =>
  createHmac("sha256", master).update("lifeline-key-id").digest("hex").slice(0, 16);

/** A key file's name: time first (an earlier creator's key tends to sort first), then random. */
const newKeyName = () =>
  `${KEYS}/${Date.now().toString(36).padStart(9, "0")}-${randomBytes(6).toString("hex")}.json`;

export interface S3RepositoryOptions {
  /** Client-side encryption: the repository's keys are unwrapped with it (see ../encryption.ts). */
  passphrase?: string | undefined;
  /** Connection and request timeouts (default LIFELINE_S3_*_TIMEOUT_MS, else 10 s and 60 s). */
  timeouts?: Partial<StoreTimeouts> | undefined;
  /**
   * Object lock: every restore point's artifacts and manifest are written retained for `days` (the
   * store refuses to delete them until then); the bucket must have object lock enabled.
   */
  objectLock?: ObjectLockSettings | undefined;
}

export interface ObjectLockSettings {
  /** governance: accounts allowed s3:BypassGovernanceRetention may still delete; compliance: nobody. */
  mode: "governance" | "compliance";
  days: number;
}

/** What `lifeline check` and `repository init` say about the bucket's object lock. */
export function describeBucketLock(bucket: string, lock: BucketLock, configured: boolean): string {
  if (lock.state === "enabled")
    return `bucket ${bucket} has object lock enabled${lock.defaultRetention ? ` (default retention ${lock.defaultRetention})` : ""}${configured ? "" : "; repository.objectLock is not set, so lifeline's restore points are not retained (add repository.objectLock: { mode: governance, days: 30 })"}`;
  return `bucket ${bucket} has no object lock (${lock.why}${lock.state === "unknown" ? ": cannot tell" : ""}): anyone with delete rights on the bucket, a compromised host with lifeline's credentials too, can delete restore points; see "Repositories in object storage" in the README`;
}

export class S3Repository implements Repository {
  readonly store: ObjectStore;
  private readonly passphrase: string | undefined;
  readonly objectLock: ObjectLockSettings | undefined;
  /** The bucket's object lock, checked once before the first locked write. */
  private lockChecking: Promise<void> | undefined;
  /** Null: not encrypted; resolved once (reading the marker and unwrapping a key). */
  private cipherLoading: Promise<ObjectCipher | null> | undefined;
  private masterKey: Buffer | undefined;
  private keyName: string | undefined;
  /** The repository did not exist when last looked at: look again (a backup may create it). */
  private missing = false;

  constructor(where: S3Location, options: S3RepositoryOptions = {}) {
    this.store = new ObjectStore(where, options.timeouts);
    this.passphrase = options.passphrase;
    this.objectLock = options.objectLock;
  }

  /**
   * The bucket's object lock configuration, for what init and check say: a store that answers the
   * question with an error of its own (not a missing bucket, denied access or an outage) is "unknown".
   */
  async bucketLock(): Promise<BucketLock> {
    try {
      return await this.store.bucketLock();
    } catch (error) {
      if (error instanceof LifelineError && error.code === "STORE_FAILED")
        return { state: "unknown", why: `the store answered: ${error.message.replace(/^[^:]*: /, "")}` };
      throw error;
    }
  }

  /**
   * With repository.objectLock: the bucket must have object lock enabled (a store without it, like
   * s3rver, accepts the lock headers and keeps nothing), else REPOSITORY_OBJECT_LOCK.
   */
  private assertLockable(): Promise<void> {
    if (!this.objectLock) return Promise.resolve();
    this.lockChecking ??= this.store.bucketLock().then(
      (lock) => {
        if (lock.state === "enabled") return;
        this.lockChecking = undefined;
        const bucket = this.store.where.bucket;
        throw new LifelineError({
          code: "REPOSITORY_OBJECT_LOCK",
          kind: "config",
          message: `repository.objectLock is set, but bucket ${bucket} ${lock.state === "disabled" ? `has no object lock (${lock.why})` : `may not have object lock (${lock.why})`}: restore points written there would not be retained; nothing was written`,
          fix:
            lock.state === "disabled"
              ? `object lock can only be enabled when a bucket is created: create one with it (aws s3api create-bucket --bucket NAME --object-lock-enabled-for-bucket) and point repository.url at it, or remove repository.objectLock from lifeline.yaml`
              : `allow s3:GetBucketObjectLockConfiguration on ${bucket} to lifeline's credentials, or remove repository.objectLock from lifeline.yaml`,
        });
      },
      (error: unknown) => {
        this.lockChecking = undefined;
        throw error;
      },
    );
    return this.lockChecking;
  }

  /** The retention of objects written now: one date for a whole restore point. */
  private retentionFromNow(): Retention | undefined {
    if (!this.objectLock) return undefined;
    return {
      mode: this.objectLock.mode === "compliance" ? "COMPLIANCE" : "GOVERNANCE",
      until: new Date(Date.now() + this.objectLock.days * 86_400_000),
    };
  }

  get location(): string {
    return this.store.location;
  }

  /** Creates the repository (marker; with a passphrase, its key) when there is none. */
  private ensure(): Promise<ObjectCipher | null> {
    return this.cipher(true);
  }

  /**
   * `lifeline repository init`: creates the repository, with its encryption key when a passphrase
   * is configured; refuses when there is one already.
   */
  async init(): Promise<{ encrypted: boolean }> {
    if (await this.store.head(MARKER))
      throw new LifelineError({
        code: "REPOSITORY_EXISTS",
        kind: "usage",
        message: `${this.location} is a lifeline repository already: nothing was changed`,
        fix: "use it as it is, or give repository.url another prefix for a new one",
      });
    await this.assertLockable();
    return { encrypted: (await this.cipher(true)) !== null };
  }

  async exists(): Promise<boolean> {
    const { directories, objects } = await this.store.children("");
    return (
      objects.some((o) => o.key === MARKER) ||
      directories.some((d) => d === RESTORE_POINTS || d === DRILLS || d === KEYS)
    );
  }

  /** Whether the repository is encrypted (false when it does not exist yet). */
  async isEncrypted(): Promise<boolean> {
    return (await this.cipher(false)) !== null;
  }

  /**
   * Rewraps the master key with another passphrase: no data is re-encrypted. The new key file is
   * written and read back first; then every other key file is deleted (those of earlier, perhaps
   * interrupted, changes too): no older passphrase opens the repository afterwards.
   */
  async changePassphrase(next: string): Promise<{ keyFile: string; removedKeyFiles: number }> {
    const cipher = await this.cipher(false);
    const master = this.masterKey;
    if (!cipher || !master)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "usage",
        message: `${this.location} is not encrypted: there is no passphrase to change`,
        fix: "give repository.encryption.passphrase in lifeline.yaml to create an encrypted repository under a new prefix",
      });
    const name = newKeyName();
    await this.store.putText(name, JSON.stringify(await wrapKey(master, next), null, 2) + "\n");
    const written = (await this.readKeyFiles()).find((k) => k.name === name);
    const back = written?.file ? await unwrapKey(written.file, next) : undefined;
    if (!back || !back.equals(master))
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "runtime",
        message: `${this.location}/${name}: the new key file does not read back as written; the passphrase was not changed (the old one still opens the repository)`,
        fix: "run lifeline repository passphrase again; if it persists, check the store",
      });
    let removedKeyFiles = 0;
    for (const k of await this.readKeyFiles())
      if (k.name !== name) {
        await this.store.delete(k.name);
        removedKeyFiles++;
      }
    this.keyName = name;
    return { keyFile: name, removedKeyFiles };
  }

  /** Every object under keys/, parsed (or why not). */
  private async readKeyFiles(): Promise<{ name: string; file?: KeyFile; problem?: string }[]> {
    const { objects } = await this.store.children(`${KEYS}/`);
    return bounded(
      objects.filter((o) => o.key.endsWith(".json")).sort((a, b) => a.key.localeCompare(b.key)),
      PARALLEL,
      async (o) => {
        const text = await this.store.getText(o.key);
        if (text === undefined) return { name: o.key, problem: "deleted while read" };
        const parsed = parseJson(text, keyFileSchema);
        return parsed.ok ? { name: o.key, file: parsed.value } : { name: o.key, problem: parsed.problem };
      },
    );
  }

  /**
   * The one master key that the passphrase unwraps from keys/; an error naming the files when it
   * unwraps none (wrong passphrase, damaged or missing key files) or more than one distinct key.
   */
  private async unwrapMaster(passphrase: string): Promise<{ master: Buffer; name: string } | undefined> {
    const keys = await this.readKeyFiles();
    if (keys.length === 0) return undefined;
    const found: { master: Buffer; name: string }[] = [];
    for (const k of keys) {
      const master = k.file ? await unwrapKey(k.file, passphrase) : undefined;
      if (master) found.push({ master, name: k.name });
    }
    const distinct = found.filter((f, i) => found.findIndex((g) => g.master.equals(f.master)) === i);
    if (distinct.length > 1)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "runtime",
        message: `${this.location}: the passphrase unwraps ${distinct.length} different master keys (${distinct.map((d) => d.name).join(", ")}); lifeline cannot tell which one the repository's objects are encrypted with, and stopped before writing anything`,
        fix: `keep a copy of ${KEYS}/, then move the key files aside one at a time and run \`lifeline check --read-data\`: keep the one that opens the manifests`,
      });
    if (distinct[0]) return distinct[0];
    const damaged = keys.filter((k) => !k.file);
    if (damaged.length > 0)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "runtime",
        message: `${this.location}: ${damaged.map((k) => `${k.name} is damaged (${k.problem ?? "unreadable"})`).join("; ")}; the passphrase opens none of the other key files`,
        fix: `restore ${KEYS}/ from your copy of it (the repository cannot be opened without its key file); if the key files are intact, check the passphrase`,
      });
    throw wrongPassphrase(this.location);
  }

  private cipher(create: boolean): Promise<ObjectCipher | null> {
    if (this.cipherLoading && this.missing && create) this.cipherLoading = undefined;
    const loading = (this.cipherLoading ??= this.loadCipher(create));
    return loading.then(
      (c) => {
        if (c === null && this.missing) this.cipherLoading = undefined;
        return c;
      },
      (error: unknown) => {
        this.cipherLoading = undefined;
        throw error;
      },
    );
  }

  /** Writes the marker unless there is one (conditional PUT); false when another creator's is there. */
  private async writeMarker(cipher: ObjectCipher | null, master: Buffer | undefined): Promise<boolean> {
    const marker = {
      kind: "lifeline-repository",
      format: 1,
      ...(cipher
        ? {
            encryption: {
              scheme: "aes-256-gcm-chunked",
              chunkSize: cipher.chunkSize,
              ...(master ? { keyId: keyId(master) } : {}),
            },
          }
        : {}),
    };
    return this.store.putTextIfAbsent(MARKER, JSON.stringify(marker, null, 2) + "\n");
  }

  /** The keyId the marker names now (undefined: no marker, or one without keyId). */
  private async markerKeyId(): Promise<string | undefined> {
    const text = await this.store.getText(MARKER);
    const parsed = text === undefined ? undefined : parseJson(text, markerSchema);
    return parsed?.ok ? parsed.value.encryption?.keyId : undefined;
  }

  /**
   * No marker: creates the repository. Never a second master key: key files already in keys/ (a
   * creation killed before its marker, a marker deleted by a lifecycle rule, another process
   * creating it now) are used; two creators at once each write a key, list keys/ again, and the
   * one whose key file does not sort first adopts the first one and deletes its own. A prefix with
   * lifeline objects but neither marker nor keys is refused (its key is lost or it is not ours).
   */
  private async create(): Promise<ObjectCipher | null> {
    const existing = await this.readKeyFiles();
    if (existing.length > 0 && this.passphrase === undefined)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "config",
        message: `${this.location} has encryption keys (${KEYS}/) but no ${MARKER}: it is an encrypted repository whose marker is missing, and lifeline.yaml gives no passphrase`,
        fix: "set repository.encryption.passphrase: ${LIFELINE_REPO_PASSPHRASE} in lifeline.yaml and the variable in the environment (lifeline writes the marker again)",
      });
    if (existing.length === 0) {
      const others = (await this.store.list("")).filter((o) => !o.key.startsWith(`${KEYS}/`));
      if (others.length > 0) {
        // Another process may have created the repository since the marker was read.
        if (await this.store.head(MARKER)) return this.open();
        throw new LifelineError({
          code: "REPOSITORY_ENCRYPTION",
          kind: "runtime",
          message: `${this.location} holds ${others.length} objects (e.g. ${others[0]?.key ?? "?"}) but neither ${MARKER} nor a key in ${KEYS}/: lifeline does not create a repository over them (an encrypted repository whose keys were deleted cannot be opened, and a new key would not open its objects)`,
          fix: `restore ${MARKER} and ${KEYS}/ from your copy of them, or give repository.url another prefix for a new repository`,
        });
      }
    }
    if (this.passphrase === undefined) {
      if (!(await this.writeMarker(null, undefined))) return this.open();
      this.missing = false;
      return null;
    }
    const passphrase = this.passphrase;
    let mine: string | undefined;
    let chosen = await this.unwrapMaster(passphrase);
    if (!chosen) {
      const master = newMasterKey();
      const wrapped = JSON.stringify(await wrapKey(master, passphrase), null, 2) + "\n";
      mine = newKeyName();
      await this.store.putText(mine, wrapped);
      // Another creator at the same time: the key file that sorts first wins, the others adopt it.
      const first = (await this.readKeyFiles())[0];
      if (first && first.name !== mine) {
        const theirs = first.file ? await unwrapKey(first.file, passphrase) : undefined;
        await this.store.delete(mine);
        if (!theirs) throw wrongPassphrase(this.location);
        chosen = { master: theirs, name: first.name };
      } else chosen = { master, name: mine };
    }
    // The marker last (a repository with a marker has its key), written only if there is none: on
    // a store with conditional writes exactly one creator's choice is recorded and the others adopt
    // it; on one without, the marker is read back, which narrows the race the same way.
    await this.writeMarker(new ObjectCipher(chosen.master), chosen.master);
    const recorded = await this.markerKeyId();
    if (recorded !== undefined && recorded !== keyId(chosen.master)) {
      const adopted = await this.masterWithId(passphrase, recorded);
      if (mine && mine !== adopted.name) await this.store.delete(mine);
      chosen = adopted;
    }
    [this.masterKey, this.keyName] = [chosen.master, chosen.name];
    this.missing = false;
    return new ObjectCipher(chosen.master);
  }

  /** The master key the marker names (keyId), from any key file the passphrase opens. */
  private async masterWithId(passphrase: string, id: string): Promise<{ master: Buffer; name: string }> {
    for (const k of await this.readKeyFiles()) {
      const master = k.file ? await unwrapKey(k.file, passphrase) : undefined;
      if (master && keyId(master) === id) return { master, name: k.name };
    }
    throw new LifelineError({
      code: "REPOSITORY_ENCRYPTION",
      kind: "runtime",
      message: `${this.location}/${MARKER} names master key ${id}, which no key file in ${KEYS}/ holds for this passphrase`,
      fix: `restore ${KEYS}/ from your copy of it; if the key files are intact, check the passphrase`,
    });
  }

  private async loadCipher(create: boolean): Promise<ObjectCipher | null> {
    if ((await this.store.getText(MARKER)) === undefined) {
      this.missing = true;
      return create ? this.create() : null;
    }
    return this.open();
  }

  /** The repository as its marker describes it. */
  private async open(): Promise<ObjectCipher | null> {
    const text = await this.store.getText(MARKER);
    if (text === undefined) throw new Error(`${MARKER} disappeared while read`);
    this.missing = false;
    const marker = parseJson(text, markerSchema);
    if (!marker.ok)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "runtime",
        message: `${this.location}/${MARKER}: ${marker.problem}`,
        fix: "this prefix does not hold a repository lifeline can read: check repository.url",
      });
    const encryption = marker.value.encryption;
    if (!encryption) {
      if (this.passphrase !== undefined)
        throw new LifelineError({
          code: "REPOSITORY_ENCRYPTION",
          kind: "config",
          message: `${this.location} is not encrypted, but lifeline.yaml gives repository.encryption`,
          fix: "remove repository.encryption from lifeline.yaml, or give repository.url a new prefix for an encrypted repository",
        });
      return null;
    }
    if (this.passphrase === undefined)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "config",
        message: `${this.location} is encrypted and lifeline.yaml gives no passphrase`,
        fix: "set repository.encryption.passphrase: ${LIFELINE_REPO_PASSPHRASE} in lifeline.yaml and the variable in the environment",
      });
    const chosen = await this.unwrapMaster(this.passphrase);
    if (!chosen)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "runtime",
        message: `${this.location} is encrypted but ${KEYS}/ is empty: the repository cannot be opened without its key file`,
        fix: `restore ${KEYS}/ from your copy of it (lifeline never creates a new key for an existing repository)`,
      });
    if (encryption.keyId !== undefined && keyId(chosen.master) !== encryption.keyId)
      throw new LifelineError({
        code: "REPOSITORY_ENCRYPTION",
        kind: "runtime",
        message: `${this.location}: the passphrase opens ${chosen.name}, but its master key is not the one ${MARKER} names (${encryption.keyId}); the repository's objects would not open with it`,
        fix: `restore ${KEYS}/ from your copy of it (the key file with master key ${encryption.keyId}); if the key files are intact, check the passphrase`,
      });
    [this.masterKey, this.keyName] = [chosen.master, chosen.name];
    return new ObjectCipher(chosen.master, encryption.chunkSize);
  }

  /** A JSON object as stored (decrypted); undefined when absent; a ChunkAuthenticationError when tampered. */
  private async readObject(name: string): Promise<string | undefined> {
    const cipher = await this.cipher(false);
    if (!cipher) return this.store.getText(name);
    const bytes = await this.store.getBytes(name);
    return bytes === undefined ? undefined : cipher.open(name, bytes).toString("utf8");
  }

  private async writeObject(name: string, text: string, retention?: Retention): Promise<void> {
    const cipher = await this.ensure();
    if (!cipher) return this.store.putText(name, text, {}, retention);
    return this.store.putBytes(name, cipher.seal(name, Buffer.from(text, "utf8")), {}, retention);
  }

  /** Reads and parses; a tampered encrypted object is a problem like a corrupt one. */
  private async readParsed<T>(name: string, parse: (text: string) => Parsed<T>): Promise<Parsed<T>> {
    try {
      const text = await this.readObject(name);
      return text === undefined ? { ok: false, problem: "missing" } : parse(text);
    } catch (error) {
      if (error instanceof ChunkAuthenticationError)
        return { ok: false, problem: error.message.slice(name.length + 2) };
      throw error;
    }
  }

  async stage(asset: string, id: string): Promise<StagedRestorePoint> {
    await this.assertLockable();
    const cipher = await this.ensure();
    await this.removeAbandoned(asset);
    const marker = `${STAGING}/${asset}/${id}.json`;
    const startedAt = new Date().toISOString();
    const beat = () =>
      this.store.putText(
        marker,
        JSON.stringify({ host: os.hostname(), pid: process.pid, startedAt, at: new Date().toISOString() }),
      );
    await beat();
    const heartbeat = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS);
    heartbeat.unref();
    await removeAbandonedTemporary();
    const directory = await mkdtemp(path.join(os.tmpdir(), `lifeline-upload-${process.pid}-`));
    let done = false;
    const prefix = rpPrefix(asset, id);
    const finish = async () => {
      clearInterval(heartbeat);
      await rm(directory, { recursive: true, force: true });
    };
    return {
      id,
      directory,
      commit: async (manifest: Manifest) => {
        if (done) throw new Error("restore point already committed or aborted");
        const retention = this.retentionFromNow();
        await bounded(manifest.artifacts, PARALLEL, (a) =>
          this.store.upload(prefix + a.path, path.join(directory, a.path), a.sha256, {
            encrypt: cipher?.encryptStream(prefix + a.path),
            retention,
          }),
        );
        // What opens the repository is retained as long as its newest restore point.
        if (retention) await this.retainRepository(retention);
        // Manifest last: until it is written, nothing here is a restore point.
        await this.writeObject(prefix + MANIFEST, manifestText(manifest).text, retention);
        done = true;
        await finish();
        await this.store.delete(marker).catch(() => undefined);
        await this.currentIndex(asset).catch(() => undefined);
      },
      abort: async () => {
        if (done) return;
        done = true;
        await finish();
        await this.removeStaged(asset, id);
      },
    };
  }

  /** The marker and the key file in use, retained at least until `retention` (never shortened). */
  private async retainRepository(retention: Retention): Promise<void> {
    for (const name of [MARKER, ...(this.keyName ? [this.keyName] : [])]) {
      const current = await this.store.retention(name);
      if (!current || current.until.getTime() < retention.until.getTime() - 1000)
        await this.store.retain(name, retention);
    }
  }

  /**
   * Partial objects of a backup that did not commit, then its marker (last: it explains them). For a
   * removal: the manifest first (from then on it is no restore point, marker or not), its drill
   * reports, then the rest.
   */
  private async removeStaged(asset: string, id: string, removing = false, purge = false): Promise<void> {
    const prefix = rpPrefix(asset, id);
    if (purge) {
      // Past its retention: every version goes (a plain delete would only hide them), manifest first.
      await this.purge(prefix + MANIFEST);
      await this.purge(`${DRILLS}/${asset}/${id}/`);
      await this.purge(prefix);
      await this.store.incompleteUploads(prefix, true);
      await this.store.delete(`${STAGING}/${asset}/${id}.json`);
      return;
    }
    if (removing) {
      await this.store.delete(prefix + MANIFEST);
      await bounded(await this.store.list(`${DRILLS}/${asset}/${id}/`), PARALLEL, (o) =>
        this.store.delete(o.key),
      );
    }
    if (!(await this.store.head(prefix + MANIFEST))) {
      await bounded(await this.store.list(prefix), PARALLEL, (o) => this.store.delete(o.key));
      await this.store.incompleteUploads(prefix, true);
    }
    await this.store.delete(`${STAGING}/${asset}/${id}.json`);
  }

  /** Every version and delete marker of the objects under a name (prefix), for good. */
  private async purge(name: string): Promise<void> {
    await bounded(await this.store.versions(name), PARALLEL, (v) =>
      this.store.deleteVersion(v.key, v.versionId),
    );
  }

  private async stagingMarkers(asset: string) {
    const { objects } = await this.store.children(`${STAGING}/${asset}/`);
    return bounded(objects, PARALLEL, async (o) => {
      const id = path.posix.basename(o.key, ".json");
      const text = await this.store.getText(o.key);
      const parsed = text === undefined ? undefined : parseJson(text, stagingSchema);
      const info = parsed?.ok ? parsed.value : undefined;
      const abandoned =
        !info ||
        (info.host === os.hostname() && !isPidAlive(info.pid)) ||
        Date.now() - Date.parse(info.at) > ABANDONED_MS;
      // A backup's marker whose manifest exists: the backup committed (killed before it deleted it).
      const committed =
        info?.removing !== true && (await this.store.head(rpPrefix(asset, id) + MANIFEST)) !== undefined;
      return { id, key: o.key, info, abandoned, committed };
    });
  }

  /** Leftovers of backups and removals whose process is gone (killed, machine lost). */
  private async removeAbandoned(asset: string): Promise<void> {
    for (const m of await this.stagingMarkers(asset))
      if (m.abandoned)
        await this.removeStaged(
          asset,
          m.id,
          m.info?.removing === true,
          m.info?.removing === true && this.objectLock !== undefined,
        );
  }

  async retainedUntil(asset: string, id: string): Promise<Date | undefined> {
    const retention = await this.store.retention(rpPrefix(asset, id) + MANIFEST);
    return retention && retention.until.getTime() > Date.now() ? retention.until : undefined;
  }

  /**
   * Removes a restore point: a removal marker first (from then on listings leave it out), then the
   * manifest, its drill reports, its artifacts, the marker. An interrupted removal is finished by the
   * next backup or removal of the asset.
   */
  async removeRestorePoint(asset: string, id: string): Promise<boolean> {
    const held = (await this.heldRestorePoints(asset)).get(id);
    if (held !== undefined) throw inUse(asset, id, held);
    await this.removeAbandoned(asset);
    if (!(await this.store.head(rpPrefix(asset, id) + MANIFEST))) return false; // removed already
    // Object lock: a restore point still retained is kept whole (the store would refuse to delete
    // its versions); one past its retention goes with all its versions, which frees the space.
    const retention = await this.store.retention(rpPrefix(asset, id) + MANIFEST);
    if (retention && retention.until.getTime() > Date.now())
      throw restorePointLocked(asset, id, retention.until);
    const purge = retention !== undefined || this.objectLock !== undefined;
    const marker = `${STAGING}/${asset}/${id}.json`;
    const now = new Date().toISOString();
    await this.store.putText(
      marker,
      JSON.stringify({ host: os.hostname(), pid: process.pid, startedAt: now, at: now, removing: true }),
    );
    // A hold taken since the first look wins: the removal marker goes, nothing was removed.
    const heldSince = (await this.heldRestorePoints(asset)).get(id);
    if (heldSince !== undefined) {
      await this.store.delete(marker);
      throw inUse(asset, id, heldSince);
    }
    await this.removeStaged(asset, id, true, purge);
    await this.currentIndex(asset).catch(() => undefined);
    return true;
  }

  /**
   * The hold first, then the restore point: a removal that started before either sees the hold and
   * backs off, or has written its removal marker and this is refused (RESTORE_POINT_GONE).
   */
  async holdRestorePoint(asset: string, id: string, purpose: string): Promise<() => Promise<void>> {
    const key = `${HOLDS}/${asset}/${id}/${os.hostname()}-${process.pid}-${randomBytes(4).toString("hex")}.json`;
    const beat = () =>
      this.store.putText(
        key,
        JSON.stringify({ host: os.hostname(), pid: process.pid, purpose, at: new Date().toISOString() }),
      );
    await beat();
    for (let attempt = 0; ; attempt++) {
      const [manifest, marker] = await Promise.all([
        this.store.head(rpPrefix(asset, id) + MANIFEST),
        this.store.getText(`${STAGING}/${asset}/${id}.json`),
      ]);
      const parsed = marker === undefined ? undefined : parseJson(marker, stagingSchema);
      const removing = parsed?.ok === true && parsed.value.removing === true;
      if (manifest && !removing) break;
      // A removal that started just before may still see this hold and back off: look again.
      if (!manifest || !removing || attempt >= 10) {
        await this.store.delete(key).catch(() => undefined);
        throw restorePointGone(asset, id);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const heartbeat = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS);
    heartbeat.unref();
    return async () => {
      clearInterval(heartbeat);
      await this.store.delete(key).catch(() => undefined);
    };
  }

  async heldRestorePoints(asset: string): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    const holds = await this.store.list(`${HOLDS}/${asset}/`);
    await bounded(holds, PARALLEL, async (o) => {
      const id = o.key.split("/")[2];
      const text = await this.store.getText(o.key);
      const parsed = text === undefined ? undefined : parseJson(text, holdSchema);
      const info = parsed?.ok ? parsed.value : undefined;
      if (!id || !info) return;
      const gone =
        (info.host === os.hostname() && !isPidAlive(info.pid)) ||
        Date.now() - Date.parse(info.at) > ABANDONED_MS;
      if (gone) await this.store.delete(o.key).catch(() => undefined);
      else held.set(id, `${info.purpose} (${info.host}, pid ${info.pid})`);
    });
    return held;
  }

  private async readManifest(asset: string, id: string): Promise<Parsed<ManifestRead>> {
    return this.readParsed(rpPrefix(asset, id) + MANIFEST, (text) => parseManifest(text, asset, id));
  }

  private async assets(kind: string, asset?: string): Promise<string[]> {
    return asset ? [asset] : (await this.store.children(`${kind}/`)).directories;
  }

  /**
   * The restore point directories that are not a backup in progress. Listed before the staging
   * markers, never at the same time: a backup's marker is written before its first artifact and
   * deleted after its manifest, so a directory seen here is either explained by a marker seen next
   * or has its manifest already.
   */
  private async restorePointIds(asset: string): Promise<string[]> {
    const { directories } = await this.store.children(`${RESTORE_POINTS}/${asset}/`);
    const staged = new Set<string>();
    for (const m of await this.stagingMarkers(asset)) {
      if (!m.committed) staged.add(m.id);
      else if (m.abandoned) await this.store.delete(m.key).catch(() => undefined); // stale
    }
    return directories.filter((id) => RESTORE_POINT_ID.test(id) && !staged.has(id));
  }

  async listRestorePoints(asset?: string): Promise<Manifest[]> {
    const manifests: Manifest[] = [];
    for (const name of await this.assets(RESTORE_POINTS, asset)) {
      const reads = await bounded(await this.restorePointIds(name), 8, (id) => this.readManifest(name, id));
      for (const read of reads) if (read.ok) manifests.push(read.value.manifest);
    }
    return manifests.sort((a, b) => a.snapshotTime.localeCompare(b.snapshotTime));
  }

  async getRestorePoint(asset: string, id: string): Promise<Manifest | undefined> {
    if (!RESTORE_POINT_ID.test(id) || !/^[a-z0-9][a-z0-9_-]*$/.test(asset)) return undefined;
    const read = await this.readManifest(asset, id);
    if (read.ok) return read.value.manifest;
    if (read.problem === "missing") {
      const [objects, marker] = await Promise.all([
        this.store.list(rpPrefix(asset, id)),
        this.store.head(`${STAGING}/${asset}/${id}.json`),
      ]);
      if (objects.length === 0 || marker) return undefined;
    }
    throw restorePointDamaged(asset, id, `${rpPrefix(asset, id)}${MANIFEST}: ${read.problem}`);
  }

  async overview(asset: string): Promise<AssetOverview> {
    const index = await this.currentIndex(asset);
    return assetOverview(index.restorePoints, index.drills, index.damagedDrills);
  }

  private async loadIndex(asset: string): Promise<IndexFile | undefined> {
    const parsed = await this.readParsed(`${INDEX}/${asset}.json`, (text) => parseJson(text, indexSchema));
    if (!parsed.ok) return undefined;
    const { digest, ...body } = parsed.value;
    return seal(body).digest === digest && body.asset === asset ? parsed.value : undefined;
  }

  private async entryOf(asset: string, id: string): Promise<IndexEntry> {
    const read = await this.readManifest(asset, id);
    return read.ok
      ? {
          id,
          snapshotTime: read.value.manifest.snapshotTime,
          bytes: totalArtifactBytes(read.value.manifest),
          manifestDigest: read.value.digest,
          protected: read.value.protected,
          damaged: null,
        }
      : {
          id,
          snapshotTime: restorePointIdTime(id),
          bytes: 0,
          manifestDigest: null,
          protected: false,
          damaged: `${rpPrefix(asset, id)}${MANIFEST}: ${read.problem}`,
        };
  }

  /**
   * The index's entry of a drill report; a damaged one when it does not read (does not parse, or
   * its content names another key); undefined when it is gone.
   */
  private async drillOf(key: string): Promise<IndexDrill | DamagedDrillReport | undefined> {
    const parsed = await this.readParsed(key, (text) => parseJson(text, drillReportSchema));
    const [, , restorePointId = "", file = ""] = key.split("/");
    const damaged = { restorePointId, id: file.replace(/\.json$/, ""), path: key };
    if (!parsed.ok) return parsed.problem === "missing" ? undefined : damaged;
    const r = parsed.value;
    if (`${DRILLS}/${r.asset}/${r.restorePointId}/${r.id}.json` !== key) return damaged;
    return { key, ...drillFactsOf(r) };
  }

  /**
   * The asset's index brought up to date with a listing of names: entries for restore points and
   * drill reports it lacks are read, those gone are dropped; stored again when it changed.
   */
  private async currentIndex(asset: string, options: { rebuild?: boolean } = {}): Promise<IndexFile> {
    const [stored, ids, drillKeys] = await Promise.all([
      options.rebuild ? undefined : this.loadIndex(asset),
      this.restorePointIds(asset),
      this.store
        .list(`${DRILLS}/${asset}/`)
        .then((l) => l.map((o) => o.key).filter((k) => k.endsWith(".json"))),
    ]);
    const known = new Map((stored?.restorePoints ?? []).map((p) => [p.id, p]));
    const knownDrills = new Map((stored?.drills ?? []).map((d) => [d.key, d]));
    const restorePoints = await bounded(
      ids,
      8,
      // A damaged entry is read again: it may have been a writer's race, or been put right.
      async (id) => {
        const cached = known.get(id);
        return cached && cached.damaged === null ? cached : await this.entryOf(asset, id);
      },
    );
    // A damaged report is read again (it is not cached): it may have been put right.
    const read = await bounded(
      drillKeys,
      8,
      async (key) => knownDrills.get(key) ?? (await this.drillOf(key)),
    );
    const drills = read.filter((d): d is IndexDrill => d !== undefined && "result" in d);
    const damagedDrills = read
      .filter((d): d is DamagedDrillReport => d !== undefined && !("result" in d))
      .map((d) => ({ restorePointId: d.restorePointId, id: d.id, path: d.path }));
    const index = seal({
      kind: "lifeline-index",
      format: INDEX_FORMAT,
      asset,
      restorePoints,
      drills,
      damagedDrills,
    });
    if (
      index.digest !== stored?.digest &&
      (ids.length > 0 || drills.length > 0 || damagedDrills.length > 0 || stored)
    )
      await this.writeObject(`${INDEX}/${asset}.json`, JSON.stringify(index) + "\n").catch(() => undefined);
    return index;
  }

  async localArtifacts(manifest: Manifest, options: FetchOptions = {}): Promise<LocalArtifacts> {
    await removeAbandonedTemporary();
    const directory = await mkdtemp(path.join(os.tmpdir(), `lifeline-download-${process.pid}-`));
    const release = () => rm(directory, { recursive: true, force: true });
    try {
      const mib = Math.round(totalArtifactBytes(manifest) / 1048576);
      options.progress?.phase(
        `downloading ${manifest.artifacts.length} artifacts (${mib} MiB) from ${this.location}`,
      );
      const prefix = rpPrefix(manifest.asset, manifest.id);
      const cipher = await this.cipher(false);
      const tampered: Finding[] = [];
      const found = await bounded(
        manifest.artifacts,
        PARALLEL,
        async (a): Promise<ObservedFile | undefined> => {
          try {
            const got = await this.store.download(prefix + a.path, path.join(directory, a.path), {
              signal: options.signal,
              decrypt: cipher?.decryptStream(prefix + a.path),
            });
            return got && { path: a.path, ...got };
          } catch (error) {
            if (!(error instanceof ChunkAuthenticationError)) throw error;
            tampered.push({ kind: "artifact-checksum", path: prefix + a.path, message: error.message });
            return { path: a.path, bytes: a.bytes, sha256: "" };
          }
        },
      );
      const findings = [
        ...tampered,
        ...checkArtifacts(
          prefix.slice(0, -1),
          manifest.artifacts,
          found.filter((f): f is ObservedFile => f !== undefined && f.sha256 !== ""),
        ).filter((f) => !tampered.some((t) => t.path === f.path)),
      ];
      return { directory, findings, release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  async verifyArtifacts(manifest: Manifest, options: FetchOptions = {}): Promise<Finding[]> {
    const local = await this.localArtifacts(manifest, options);
    await local.release();
    return local.findings;
  }

  async writeDrillReport(report: DrillReport): Promise<void> {
    await this.writeObject(
      `${DRILLS}/${report.asset}/${report.restorePointId}/${report.id}.json`,
      JSON.stringify(report, null, 2) + "\n",
    );
    await this.currentIndex(report.asset).catch(() => undefined);
  }

  async listDrillReports(asset?: string): Promise<DrillReport[]> {
    const reports: DrillReport[] = [];
    for (const name of await this.assets(DRILLS, asset)) {
      const keys = (await this.store.list(`${DRILLS}/${name}/`)).filter((o) => o.key.endsWith(".json"));
      const read = await bounded(keys, 8, (o) =>
        this.readParsed(o.key, (text) => parseJson(text, drillReportSchema)),
      );
      read.forEach((r, i) => {
        const rp = keys[i]?.key.split("/")[2];
        if (r?.ok && r.value.restorePointId === rp) reports.push(r.value);
      });
    }
    return reports.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  }

  async check(options: CheckOptions = {}): Promise<CheckResult> {
    const findings: Finding[] = [];
    const notes: string[] = [];
    let restorePoints = 0;
    let drillReports = 0;
    // Before the listing: delete markers can hide everything, the marker too.
    await this.checkLock(findings, notes, options.undelete === true);
    const cipher = await this.cipher(false);
    const objects = await this.store.list("");
    if (objects.length === 0) {
      notes.push(`repository ${this.location} is empty or does not exist yet: the first backup creates it`);
      return { findings, notes, restorePoints, drillReports };
    }
    const unexplained = (key: string) =>
      findings.push({
        kind: "unexplained",
        path: key,
        message: `${key}: object is not part of a lifeline repository`,
      });
    if (!objects.some((o) => o.key === MARKER))
      findings.push({
        kind: "unexplained",
        path: MARKER,
        message: `${MARKER}: missing; ${this.location} does not look like a lifeline repository`,
      });

    const groups = new Map<string, { asset: string; id: string; objects: Map<string, number> }>();
    const drillKeys: { key: string; asset: string; rp: string; file: string }[] = [];
    const stagingKeys: string[] = [];
    const assets = new Set<string>();
    for (const o of objects) {
      const parts = o.key.split("/");
      if (o.key === MARKER) continue;
      if (parts[0] === RESTORE_POINTS && parts.length >= 4 && parts[1] && parts[2]) {
        const g = `${parts[1]}/${parts[2]}`;
        assets.add(parts[1]);
        if (!groups.has(g)) groups.set(g, { asset: parts[1], id: parts[2], objects: new Map() });
        groups.get(g)?.objects.set(parts.slice(3).join("/"), o.bytes);
      } else if (parts[0] === STAGING && parts.length === 3) stagingKeys.push(o.key);
      else if (parts[0] === DRILLS && parts.length === 4 && parts[1] && parts[2] && parts[3])
        drillKeys.push({ key: o.key, asset: parts[1], rp: parts[2], file: parts[3] });
      else if (parts[0] === INDEX && parts.length === 2 && parts[1]?.endsWith(".json")) continue;
      else if (parts[0] === KEYS && parts.length === 2 && parts[1]?.endsWith(".json")) continue;
      else if (parts[0] === HOLDS && parts.length === 4 && parts[3]?.endsWith(".json")) continue;
      else unexplained(o.key);
    }

    const staged = new Set<string>();
    for (const asset of new Set([...assets, ...stagingKeys.map((k) => k.split("/")[1] ?? "")])) {
      for (const m of await this.stagingMarkers(asset)) {
        if (m.committed) {
          notes.push(
            `${rpPrefix(asset, m.id)}: a committed restore point whose backup ${m.abandoned ? `was interrupted before it deleted its staging marker (${m.key}, stale; the next backup or listing of ${asset} deletes it)` : `is finishing (${m.info?.host ?? "?"}, pid ${m.info?.pid ?? "?"})`}`,
          );
          continue;
        }
        staged.add(`${asset}/${m.id}`);
        notes.push(
          m.info?.removing
            ? `${rpPrefix(asset, m.id)}: a removal by retention ${m.abandoned ? `was interrupted (${m.key}); the next backup or removal of ${asset} finishes it` : "is in progress"}`
            : m.abandoned
              ? `${rpPrefix(asset, m.id)}: leftovers of an interrupted backup (${m.key}); not a restore point, removed by the next backup of ${asset}`
              : `${rpPrefix(asset, m.id)}: a backup of ${asset} is in progress (${m.info?.host ?? "?"}, pid ${m.info?.pid ?? "?"})`,
        );
      }
    }
    const keyFiles = objects.filter((o) => o.key.startsWith(`${KEYS}/`) && o.key.endsWith(".json"));
    if (cipher && keyFiles.length > 1)
      notes.push(
        `${KEYS}/: ${keyFiles.length} key files (${keyFiles.map((o) => o.key).join(", ")}); an interrupted passphrase change leaves the older one, and its passphrase still opens the repository: run \`lifeline repository passphrase\` again to keep only the new one`,
      );
    const uploads = await this.store.incompleteUploads("", false);
    if (uploads === null)
      notes.push(
        `${this.location}: the store does not list incomplete multipart uploads; a bucket lifecycle rule (AbortIncompleteMultipartUpload after 1 day) removes those of interrupted backups`,
      );
    else
      for (const key of uploads)
        if (!staged.has(key.split("/").slice(1, 3).join("/")))
          notes.push(
            `${key}: an incomplete multipart upload (an interrupted backup's); the next backup of its asset aborts it`,
          );

    const known = new Set<string>();
    const damaged = new Set<string>();
    for (const [name, group] of groups) {
      if (staged.has(name)) continue;
      const rel = rpPrefix(group.asset, group.id).slice(0, -1);
      if (!RESTORE_POINT_ID.test(group.id)) {
        for (const file of group.objects.keys()) unexplained(`${rel}/${file}`);
        continue;
      }
      const read = await this.readManifest(group.asset, group.id);
      if (!read.ok) {
        damaged.add(name);
        findings.push({
          kind: "manifest-invalid",
          path: `${rel}/${MANIFEST}`,
          message: `${rel}/${MANIFEST}: ${read.problem}; restore point ${group.id} of ${group.asset} is damaged`,
        });
        continue;
      }
      known.add(name);
      restorePoints++;
      const manifest = read.value.manifest;
      if (options.readData) {
        findings.push(...(await this.verifyArtifacts(manifest)));
      } else {
        const listed = new Map(manifest.artifacts.map((a) => [a.path, a]));
        const found = await bounded([...group.objects], 8, async ([file, stored]): Promise<ObservedFile> => {
          const artifact = listed.get(file);
          // An encrypted object's size tells its plaintext's; its checksum is only in the manifest.
          const bytes =
            cipher && artifact && stored === encryptedSize(artifact.bytes, cipher.chunkSize)
              ? artifact.bytes
              : stored;
          if (!artifact || artifact.bytes !== bytes || cipher) return { path: file, bytes };
          const head = await this.store.head(`${rel}/${file}`);
          const recorded = head?.metadata.sha256;
          return recorded ? { path: file, bytes, sha256: recorded } : { path: file, bytes };
        });
        findings.push(...checkArtifacts(rel, manifest.artifacts, found));
      }
      for (const file of group.objects.keys())
        if (file !== MANIFEST && !manifest.artifacts.some((a) => a.path === file))
          unexplained(`${rel}/${file}`);
    }

    for (const d of drillKeys) {
      if (!DRILL_ID.test(d.file.replace(/\.json$/, "")) || !d.file.endsWith(".json")) {
        unexplained(d.key);
        continue;
      }
      const parsed = await this.readParsed(d.key, (text) => parseJson(text, drillReportSchema));
      if (!parsed.ok) {
        findings.push({
          kind: "drill-report-invalid",
          path: d.key,
          message: `${d.key}: ${parsed.problem}`,
        });
        continue;
      }
      drillReports++;
      const rp = `${d.asset}/${d.rp}`;
      if (!known.has(rp) && !damaged.has(rp))
        findings.push({
          kind: "drill-report-orphan",
          path: d.key,
          message: `${d.key}: drill report of restore point ${rp}, which is not in the repository`,
        });
    }

    for (const asset of [...assets].sort()) {
      if (options.repairIndex) {
        await this.currentIndex(asset, { rebuild: true });
        notes.push(`${INDEX}/${asset}.json: rebuilt from the manifests and drill reports`);
        continue;
      }
      await this.checkIndex(asset, findings);
    }
    return { findings, notes, restorePoints, drillReports };
  }

  /**
   * The bucket's object lock, as a note. On a bucket with it: restore points whose objects were
   * deleted without lifeline (a plain delete only adds delete markers) while their locked versions
   * remain are findings, or with `undelete` brought back by removing the delete markers (their drill
   * reports too); so are the repository's marker and, when none is left, its key files.
   */
  private async checkLock(findings: Finding[], notes: string[], undelete: boolean): Promise<void> {
    const lock = await this.bucketLock();
    notes.push(describeBucketLock(this.store.where.bucket, lock, this.objectLock !== undefined));
    if (lock.state !== "enabled") return;
    const byKey = new Map<string, ObjectVersion[]>();
    for (const v of await this.store.versions("")) {
      const list = byKey.get(v.key);
      if (list) list.push(v);
      else byKey.set(v.key, [v]);
    }
    /** Keys whose latest version is a delete marker with a version below it: what the marker hides. */
    const hidden = new Map<string, { markers: ObjectVersion[]; newest: ObjectVersion }>();
    for (const [key, versions] of byKey) {
      const kept = versions.filter((v) => !v.deleteMarker);
      const newest = kept[0];
      if (newest && versions.some((v) => v.latest && v.deleteMarker))
        hidden.set(key, { markers: versions.filter((v) => v.deleteMarker), newest });
    }
    if (hidden.size === 0) return;
    const groups = new Map<string, { what: string; keys: string[] }>();
    const add = (group: string, what: string, key: string) => {
      const g = groups.get(group) ?? { what, keys: [] };
      g.keys.push(key);
      groups.set(group, g);
    };
    const currentKeyFile = [...byKey].some(
      ([key, versions]) => key.startsWith(`${KEYS}/`) && versions.some((v) => v.latest && !v.deleteMarker),
    );
    for (const key of hidden.keys()) {
      const parts = key.split("/");
      if (
        parts[0] === RESTORE_POINTS &&
        parts.length >= 4 &&
        parts[1] &&
        parts[2] &&
        RESTORE_POINT_ID.test(parts[2])
      )
        add(`${parts[1]}/${parts[2]}`, `restore point ${parts[2]} of ${parts[1]} was`, key);
      else if (key === MARKER) add(MARKER, `the repository's marker ${MARKER} was`, key);
      else if (parts[0] === KEYS && !currentKeyFile) add(KEYS, `every key file of the repository was`, key);
    }
    const now = Date.now();
    for (const [group, g] of groups) {
      // The newest hidden version of one of its objects (the manifest's for a restore point) tells
      // whether it is locked: lifeline's own removals past retention leave no versions behind.
      const probe = g.keys.find((k) => k.endsWith(`/${MANIFEST}`)) ?? g.keys[0] ?? "";
      const version = hidden.get(probe)?.newest;
      const retention = version ? await this.store.retention(probe, version.versionId) : undefined;
      if (!retention || retention.until.getTime() <= now) continue;
      const [asset, id] = group.split("/");
      const keys =
        asset && id
          ? [...g.keys, ...[...hidden.keys()].filter((k) => k.startsWith(`${DRILLS}/${asset}/${id}/`))]
          : g.keys;
      const where = asset && id ? rpPrefix(asset, id) : group === KEYS ? `${KEYS}/` : group;
      if (undelete) {
        for (const key of keys)
          for (const marker of hidden.get(key)?.markers ?? [])
            await this.store.deleteVersion(key, marker.versionId);
        notes.push(
          `${where}: ${g.what} deleted (delete markers on ${keys.length === 1 ? "1 object" : `${keys.length} objects`}) while locked until ${retention.until.toISOString()}: brought back`,
        );
      } else
        findings.push({
          kind: "hidden-by-delete-marker",
          path: where,
          message: `${where}: ${g.what} deleted (delete markers on ${keys.length === 1 ? "1 object" : `${keys.length} objects`}), but its versions are locked until ${retention.until.toISOString()} and remain; run \`lifeline check --undelete\` to bring it back`,
        });
    }
  }

  /** The stored index against the manifests: an entry that differs from an intact manifest is a finding. */
  private async checkIndex(asset: string, findings: Finding[]): Promise<void> {
    const rel = `${INDEX}/${asset}.json`;
    if (!(await this.store.head(rel))) return; // built by the next status, plan or backup
    const stored = await this.loadIndex(asset);
    if (!stored) {
      findings.push({
        kind: "index-invalid",
        path: rel,
        message: `${rel}: damaged (does not parse or does not match its digest); lifeline rebuilds it on the next read, or run \`lifeline check --repair-index\``,
      });
      return;
    }
    const differences: string[] = [];
    for (const entry of stored.restorePoints) {
      const truth = await this.entryOf(asset, entry.id);
      if (truth.damaged !== null) continue; // reported as manifest-invalid
      if (
        truth.manifestDigest !== entry.manifestDigest ||
        truth.snapshotTime !== entry.snapshotTime ||
        truth.bytes !== entry.bytes
      )
        differences.push(`its entry for restore point ${entry.id} does not match the manifest`);
    }
    if (differences.length > 0)
      findings.push({
        kind: "index-invalid",
        path: rel,
        message: `${rel}: ${differences.slice(0, 3).join("; ")}; run \`lifeline check --repair-index\` to rebuild it from the manifests`,
      });
  }
}
