import type { Command } from "commander";
import { LifelineError } from "../../core/errors.js";
import type { CliEnv } from "../env.js";
import { json, out } from "../io.js";
import { load, refusePlaintextCopy, repositoryAt, repositoryFor } from "../wiring.js";
import { S3Repository, describeBucketLock } from "../../repository/s3/index.js";
import { copyRepository } from "../../app/copy.js";
import { terminalProgress } from "../io.js";
import { EXIT_CODES } from "../../core/errors.js";

export function register(program: Command, env: CliEnv): void {
  const repository = program
    .command("repository")
    .description(
      "The repository itself: create it (with its encryption key), change its passphrase, copy its restore points to another repository.",
    )
    .addHelpText(
      "after",
      "\nExample:\n  lifeline repository init\n  LIFELINE_NEW_PASSPHRASE=… lifeline repository passphrase --new-from-env LIFELINE_NEW_PASSPHRASE\n  lifeline repository copy --to /mnt/backup-disk/lifeline\n",
    );

  repository
    .command("init")
    .description(
      "Create the configured repository (with repository.encryption: a random master key, stored wrapped by the passphrase). Refuses when one exists.",
    )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline repository init\n  lifeline repository init --json\n\nExit codes: 0 created; 2 a repository exists there already (nothing changed).\n",
    )
    .action(async (_opts, command: Command) => {
      const options = env.globals(command);
      const repo = repositoryFor(load(options));
      const { encrypted } = await repo.init();
      // Object storage: whether the bucket keeps restore points from deletion (object lock).
      const lock =
        repo instanceof S3Repository
          ? {
              objectLock: repo.objectLock ?? null,
              bucketLock: describeBucketLock(
                repo.store.where.bucket,
                await repo.bucketLock(),
                repo.objectLock !== undefined,
              ),
            }
          : undefined;
      if (options.json) json({ location: repo.location, encrypted, ...(lock ? lock : {}) });
      else {
        out(`created ${encrypted ? "an encrypted " : "a "}repository at ${repo.location}`);
        if (lock?.objectLock)
          out(
            `restore points are written locked (object lock, ${lock.objectLock.mode} mode) for ${lock.objectLock.days} days`,
          );
        if (lock) out(lock.bucketLock);
      }
    });

  repository
    .command("passphrase")
    .description(
      "Change an encrypted repository's passphrase: its master key is rewrapped, no data is re-encrypted. The current passphrase comes from lifeline.yaml, the new one from an environment variable.",
    )
    .requiredOption("--new-from-env <variable>", "environment variable holding the new passphrase")
    .option("--json", "print one JSON document on stdout (never the passphrase)")
    .addHelpText(
      "after",
      "\nExample:\n  LIFELINE_NEW_PASSPHRASE=… lifeline repository passphrase --new-from-env LIFELINE_NEW_PASSPHRASE\n  (then set repository.encryption.passphrase's variable to the new passphrase)\n  LIFELINE_NEW_PASSPHRASE=… lifeline repository passphrase --new-from-env LIFELINE_NEW_PASSPHRASE --json\n\nExit codes: 0 changed; 2 refused (not set or too short, the repository is not encrypted, the current passphrase does not open it; nothing changed).\n",
    )
    .action(async (opts: { newFromEnv: string }, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const repo = repositoryFor(loaded);
      const next = process.env[opts.newFromEnv] ?? "";
      if (next.length < 8)
        throw new LifelineError({
          code: "USAGE",
          kind: "usage",
          message: `${opts.newFromEnv} is not set or shorter than 8 characters`,
          fix: `export ${opts.newFromEnv} with the new passphrase, then run this again`,
        });
      if (!(repo instanceof S3Repository))
        throw new LifelineError({
          code: "REPOSITORY_ENCRYPTION",
          kind: "usage",
          message: `${repo.location} is not encrypted (encryption is for repositories in object storage)`,
          fix: "nothing to change: a repository in a directory has no passphrase (encryption needs repository.url s3://… with repository.encryption.passphrase)",
        });
      const changed = await repo.changePassphrase(next);
      if (options.json)
        json({
          location: repo.location,
          encrypted: true,
          keyFile: changed.keyFile,
          removedKeyFiles: changed.removedKeyFiles,
        });
      else
        out(
          `the passphrase of ${repo.location} is changed; set repository.encryption.passphrase to the new one`,
        );
    });

  repository
    .command("copy")
    .description(
      "Copy restore points and their drill reports to another repository (a local directory or s3://bucket/prefix), checking every artifact's sha256 on both sides; the manifest is written last. What is already there is left as it is.",
    )
    .requiredOption(
      "--to <url>",
      "the other repository: a directory, or s3://bucket/prefix (on repository:'s store unless --to-endpoint or --to-region)",
    )
    .option(
      "--to-endpoint <url>",
      "s3:// only: the other repository's store (an S3-compatible server's http(s):// URL; path-style requests)",
    )
    .option(
      "--to-region <region>",
      "s3:// only: the other repository's region (with no --to-endpoint: AWS S3)",
    )
    .option("--asset <name>", "only this asset's restore points")
    .option("--restore-point <id>", "only this restore point")
    .option(
      "--to-passphrase-env <variable>",
      "s3:// only: the other repository is encrypted with the passphrase in this variable",
    )
    .option(
      "--allow-plaintext",
      "copy an encrypted repository without encryption: to a directory (lifeline does not encrypt one), or to s3:// without --to-passphrase-env (refused otherwise)",
    )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline repository copy --to /mnt/backup-disk/lifeline\n  LIFELINE_COPY_PASSPHRASE=… lifeline repository copy --to s3://offsite-backups/lifeline --to-passphrase-env LIFELINE_COPY_PASSPHRASE --asset shop --json\n  lifeline repository copy --to s3://backups/lifeline --to-endpoint https://minio.internal:9000\n\nAn encrypted repository is copied only encrypted (s3:// with --to-passphrase-env), or with --allow-plaintext.\n\nExit codes: 0 copied (or already there); 2 refused (nothing copied); 4 a restore point's artifacts did not match its manifest (not copied).\n",
    )
    .action(
      async (
        opts: {
          to: string;
          asset?: string;
          restorePoint?: string;
          toPassphraseEnv?: string;
          toEndpoint?: string;
          toRegion?: string;
          allowPlaintext?: boolean;
        },
        command: Command,
      ) => {
        const options = env.globals(command);
        const loaded = load(options);
        const from = repositoryFor(loaded);
        // What only a store in object storage takes, given for a directory: refused, not ignored
        // (a passphrase ignored would leave a plaintext copy the user thinks is encrypted).
        const s3Only = (
          [
            ["--to-passphrase-env", opts.toPassphraseEnv],
            ["--to-endpoint", opts.toEndpoint],
            ["--to-region", opts.toRegion],
          ] as const
        ).filter(([, value]) => value !== undefined);
        const directory = !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(opts.to);
        if (directory && s3Only.length > 0)
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `${s3Only.map(([flag]) => flag).join(", ")} ${s3Only.length === 1 ? "is" : "are"} for a copy in object storage (--to s3://bucket/prefix), not a directory${opts.toPassphraseEnv !== undefined ? " (lifeline does not encrypt one)" : ""}; nothing was copied`,
            fix: "copy to s3://bucket/prefix, or leave them out for a directory",
          });
        if (opts.toEndpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(opts.toEndpoint))
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: "--to-endpoint is not an http(s):// URL; nothing was copied",
            fix: "give the store's URL, e.g. --to-endpoint https://minio.internal:9000",
          });
        let passphrase: string | undefined;
        if (opts.toPassphraseEnv !== undefined) {
          passphrase = process.env[opts.toPassphraseEnv];
          if (passphrase === undefined || passphrase.length < 8)
            throw new LifelineError({
              code: "USAGE",
              kind: "usage",
              message: `${opts.toPassphraseEnv} ${passphrase === undefined ? "is not set" : "is shorter than 8 characters"} (a passphrase is at least 8 characters); nothing was copied`,
              fix: `export ${opts.toPassphraseEnv} with the other repository's passphrase, then run this again`,
            });
        }
        const to = repositoryAt(loaded, opts.to, passphrase, process.cwd(), {
          endpoint: opts.toEndpoint,
          region: opts.toRegion,
        });
        await refusePlaintextCopy(from, to, {
          passphrase,
          allowPlaintext: opts.allowPlaintext === true,
          fix: !directory
            ? "give --to-passphrase-env <variable> (the other repository's passphrase), or --allow-plaintext to copy without encryption on purpose"
            : "lifeline does not encrypt a directory: copy to s3://bucket/prefix with --to-passphrase-env <variable>, or give --allow-plaintext to keep a plaintext copy there on purpose (on an encrypted disk, say)",
        });
        const result = await copyRepository(from, to, {
          ...(opts.asset ? { asset: opts.asset } : {}),
          ...(opts.restorePoint ? { restorePointId: opts.restorePoint } : {}),
          signal: env.signal,
          progress: terminalProgress("repository copy"),
        });
        if (options.json) json({ from: from.location, to: to.location, ...result });
        else {
          out(
            `${from.location} → ${to.location}: ${result.copied.length} restore point${result.copied.length === 1 ? "" : "s"} copied, ${result.present.length} already there, ${result.drillReports} drill report${result.drillReports === 1 ? "" : "s"} copied`,
          );
          for (const s of result.skipped)
            out(`NOT copied ${s.restorePoint}: ${s.findings.map((f) => f.message).join("; ")}`);
        }
        if (result.skipped.length > 0) env.setExit(EXIT_CODES.verification);
      },
    );
}
