// TrackingServer (`experiment.aiscope/v1alpha2`): an MLflow tracking server for one team. Field names are
// those of the original controller, so existing objects parse unchanged.
import { z } from "zod";
import { httpUrl, imageReference, matching, pem, quantityString, quantityValue, quote, ResourceRequirements, strictObject, wholeNumber, DNS_SUBDOMAIN } from "./common";

export const TRACKING_SERVER = {
  group: "experiment.aiscope",
  version: "v1alpha2",
  kind: "TrackingServer",
  plural: "trackingservers",
  singular: "trackingserver",
  shortNames: ["ts", "mlflow"],
} as const;

/** Where the server keeps SQLite and local artifacts; the PersistentVolumeClaim is mounted here. */
export const DATA_DIR = "/mlflow";

const noSpaces = (what: string, secret = false) => matching(/^\S+$/, what, undefined, { secret });

export const TrackingServerSpec = strictObject({
  /** Number of server replicas. @default 1 */
  size: wholeNumber(0, 100).default(1).describe("Number of MLflow server replicas (default 1)"),
  /** MLflow image; the program sets the command, so any image with `mlflow` on the PATH works. @default config `crdstack:defaultMlflowImage` */
  image: imageReference.optional().describe("MLflow image (default: the stack's crdstack:defaultMlflowImage)"),
  /** S3-compatible endpoint for artifacts, passed as `MLFLOW_S3_ENDPOINT_URL`. */
  s3_endpoint_url: httpUrl.optional().describe("S3 endpoint URL (MLFLOW_S3_ENDPOINT_URL)"),
  /** S3 access key id; stored in the `<name>-credentials` Secret, never in the pod spec. */
  aws_access_key: noSpaces("an access key id without spaces", true).optional().describe("S3 access key id"),
  /** S3 secret key; stored in the `<name>-credentials` Secret, never in the pod spec. */
  aws_secret_key: noSpaces("a secret key without spaces", true).optional().describe("S3 secret access key"),
  /** Where artifacts are stored: `--artifacts-destination` when the server serves them, else `--default-artifact-root`. @default `/mlflow/artifacts` */
  artifact_root: noSpaces("an artifact URI without spaces").optional().describe("Artifact store: where the server keeps the artifacts it serves, or else the root clients write to (default /mlflow/artifacts)"),
  /**
   * The server stores and serves artifacts (`--serve-artifacts`): clients upload and download through its
   * REST API and need no access to the store. `false` makes clients write to `artifact_root` themselves.
   * @default true for a folder of the server (the default `/mlflow/artifacts`), false for a remote store
   */
  serveArtifacts: z.boolean().optional().describe("Clients upload and download artifacts through the server (default: true for a folder of the server, false for a remote artifact_root); false: clients use artifact_root directly"),
  /** `--backend-store-uri`; it may hold a database password, so it reaches the pod through the credentials Secret. @default `sqlite:////mlflow/mlflow.db` */
  backend_uri: noSpaces("a database URI without spaces", true).optional().describe("Backend store URI (default sqlite:////mlflow/mlflow.db)"),
  /** Public URL; an Ingress for its host and path is created when set. */
  url: httpUrl.optional().describe("Public URL; creates an Ingress for its host and path"),
  /** Size of the PersistentVolumeClaim mounted at /mlflow; needs `storageClassName`. */
  volumeSize: quantityString
    .refine((size) => quantityValue(size) > 0, { error: (issue) => `${quote(issue.input)} is not a positive size` })
    .optional()
    .describe("Size of the volume mounted at /mlflow, e.g. 10Gi; needs storageClassName"),
  /** StorageClass of the PersistentVolumeClaim; needs `volumeSize`. */
  storageClassName: matching(DNS_SUBDOMAIN, "a StorageClass name", 253).optional().describe("StorageClass of the volume; needs volumeSize"),
  /** Keep the PersistentVolumeClaim (and the database on it) when the volume fields are removed or the object is deleted. @default false */
  retainVolume: z.boolean().optional().describe("Keep the volume when volumeSize/storageClassName are removed or the object is deleted (default false)"),
  /** An existing Secret in the namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, instead of the key fields. */
  s3CredentialsSecret: matching(DNS_SUBDOMAIN, "a Secret name", 253).optional().describe("Existing Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, instead of aws_access_key/aws_secret_key"),
  /** Compute resources of the server container; when set, they replace the defaults as a whole. @default DEFAULT_RESOURCES in builders/trackingServer.ts */
  resources: ResourceRequirements.optional().describe("Compute resources (limits, requests) of the server container; replaces the defaults as a whole"),
  /** PEM certificate for the Ingress TLS Secret; needs `key`. */
  cert: pem(["CERTIFICATE"], "certificate").optional().describe("PEM certificate for the Ingress; needs key"),
  /** PEM private key for the Ingress TLS Secret; needs `cert`. */
  key: pem(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"], "private key").optional().describe("PEM private key for the Ingress; needs cert"),
}).superRefine((spec, ctx) => {
  const pairs: [keyof typeof spec, keyof typeof spec][] = [
    ["cert", "key"],
    ["aws_access_key", "aws_secret_key"],
    ["volumeSize", "storageClassName"],
  ];
  for (const [a, b] of pairs) {
    if ((spec[a] === undefined) !== (spec[b] === undefined)) {
      const missing = spec[a] === undefined ? a : b;
      ctx.addIssue({ code: "custom", path: [missing], message: `Only one of \`${a}\` or \`${b}\` is set: set both or neither` });
    }
  }
  if (spec.size > 1 && !isDatabaseServer(spec.backend_uri)) {
    const backend = spec.backend_uri === undefined ? "the default SQLite backend" : "a backend_uri that is not a database server";
    const message = `${spec.size} replicas with ${backend} would each have a database of their own behind one Service: set backend_uri to a database server (postgresql://, mysql://, mssql://) or size to 0 or 1`;
    ctx.addIssue({ code: "custom", path: ["size"], message });
  }
  if (spec.size > 1 && isLocalStore(spec.artifact_root)) {
    const message = `${spec.size} replicas would each keep the artifacts they receive in ${quote(spec.artifact_root ?? DEFAULT_ARTIFACT_ROOT)}, a folder of their own: set artifact_root to a shared store (s3://, gs://, wasbs://, …) or size to 0 or 1`;
    ctx.addIssue({ code: "custom", path: ["size"], message });
  }
  if (spec.serveArtifacts === false && isLocalStore(spec.artifact_root)) {
    const message = `false makes clients write artifacts to artifact_root themselves, which then must be a store they reach (s3://, gs://, wasbs://, …), not ${quote(spec.artifact_root ?? DEFAULT_ARTIFACT_ROOT)}, a folder of the server`;
    ctx.addIssue({ code: "custom", path: ["serveArtifacts"], message });
  }
  if (spec.s3CredentialsSecret !== undefined && spec.aws_access_key !== undefined) {
    ctx.addIssue({ code: "custom", path: ["s3CredentialsSecret"], message: "Only one of `s3CredentialsSecret` or `aws_access_key`/`aws_secret_key` may be set" });
  }
});
export type TrackingServerSpec = z.infer<typeof TrackingServerSpec>;

/** Where artifacts are kept unless `artifact_root` says otherwise: on the server's volume. */
export const DEFAULT_ARTIFACT_ROOT = `${DATA_DIR}/artifacts`;

/**
 * A URI's scheme without its driver (`postgresql+psycopg2` → `postgresql`), in lowercase; `undefined`
 * for a path (a one-letter scheme is a Windows drive).
 */
function schemeOf(uri: string): string | undefined {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1];
  return scheme === undefined || scheme.length === 1 ? undefined : scheme.toLowerCase().split("+")[0];
}

/** Whether a backend store URI names a database server, which several replicas can share. */
export function isDatabaseServer(uri: string | undefined): boolean {
  return uri !== undefined && ["postgresql", "mysql", "mssql"].includes(schemeOf(uri) ?? "");
}

/** Whether an artifact URI is a folder of the server (unset, a path, `file:`) rather than a store elsewhere. */
export function isLocalStore(uri: string | undefined): boolean {
  const scheme = uri === undefined ? undefined : schemeOf(uri);
  return scheme === undefined || scheme === "file";
}

/**
 * Whether the server serves artifacts: as the spec says, else when they are kept in a folder of its own
 * (clients could not reach it otherwise). A remote store is written by the clients themselves unless the
 * spec asks for serving, as before serving existed: the server's image then needs the store's client.
 */
export function servesArtifacts(spec: TrackingServerSpec): boolean {
  return spec.serveArtifacts ?? isLocalStore(spec.artifact_root);
}
