// TrackingServer (`experiment.aiscope/v1alpha2`): an MLflow tracking server for one team. Field names are
// those of the original controller, so existing objects parse unchanged.
import { z } from "zod";
import { httpUrl, imageReference, ingressUrl, matching, quantityString, quote, strictObject, wholeNumber, DNS_SUBDOMAIN, QUANTITY } from "./common";
import { ResourceRequirements } from "./resources";
import { certificateChain, keyMismatch, privateKey } from "./tls";
import { above, all, any, bothOrNeither, equals, excludes, itself, matches, not, requires, Rule, stringFields, withRules } from "./rules";

export const TRACKING_SERVER = {
  group: "experiment.aiscope",
  version: "v1alpha2",
  kind: "TrackingServer",
  plural: "trackingservers",
  singular: "trackingserver",
  shortNames: ["ts", "mlflow"],
} as const;

/** The `app` label of every TrackingServer's pods, as the original controller set it (with `ts_name: <name>`). */
export const TRACKING_SERVER_APP = "trackingserver";

/** Where the server keeps SQLite and local artifacts; the PersistentVolumeClaim is mounted here. */
export const DATA_DIR = "/mlflow";

/** A quantity above zero: one with a digit other than 0 before its suffix. */
const positiveSize = withRules(quantityString, [{
  holds: any(not(matches(itself, QUANTITY)), matches(itself, /^\+?[0.]*[1-9]/)),
  message: "is not a positive size",
  problem: (size: string) => `${quote(size)} is not a positive size`,
}]);

/**
 * A bound on the private key's text, far above a PEM key's (an RSA key of 16384 bits takes 13 KB): the CRD
 * checks a secret field's pattern in a CEL rule, whose cost estimate needs the string's maxLength.
 */
const KEY_MAX_LENGTH = 65536;

const noSpaces = (what: string, secret = false) => matching(/^\S+$/, what, undefined, { secret });

const TrackingServerFields = strictObject({
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
  /** Public URL; an Ingress for its host and path is created when set, so its host is a DNS name. */
  url: ingressUrl.optional().describe("Public URL; creates an Ingress for its host and path"),
  /** Size of the PersistentVolumeClaim mounted at /mlflow; of the cluster's default StorageClass unless `storageClassName` is set. */
  volumeSize: positiveSize
    .optional()
    .describe("Size of the volume mounted at /mlflow, e.g. 10Gi; of the cluster's default StorageClass unless storageClassName is set"),
  /** StorageClass of the PersistentVolumeClaim; needs `volumeSize`. @default the cluster's default StorageClass */
  storageClassName: matching(DNS_SUBDOMAIN, "a StorageClass name", 253).optional().describe("StorageClass of the volume; needs volumeSize"),
  /** Keep the PersistentVolumeClaim (and the database on it) when the volume fields are removed or the object is deleted. @default false */
  retainVolume: z.boolean().optional().describe("Keep the volume when volumeSize is removed or the object is deleted (default false)"),
  /** An existing Secret in the namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, instead of the key fields. */
  s3CredentialsSecret: matching(DNS_SUBDOMAIN, "a Secret name", 253).optional().describe("Existing Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, instead of aws_access_key/aws_secret_key"),
  /** Compute resources of the server container; when set, they replace the defaults as a whole. @default DEFAULT_RESOURCES in builders/trackingServer.ts */
  resources: ResourceRequirements.optional().describe("Compute resources (limits, requests) of the server container; replaces the defaults as a whole"),
  /** PEM certificate for the Ingress TLS Secret, the server's first and then its chain; needs `key`. */
  cert: certificateChain.optional().describe("PEM certificate for the Ingress (the server's, then its chain); needs key"),
  /** PEM private key of the (first) certificate, for the Ingress TLS Secret; needs `cert`. */
  key: privateKey.max(KEY_MAX_LENGTH, { error: () => `is longer than ${KEY_MAX_LENGTH} characters` }).optional().describe("PEM private key of the certificate, for the Ingress; needs cert"),
});

/** The spec's string fields, in which `""` means unset (see `parseObject`). */
export const TRACKING_SERVER_STRING_FIELDS: readonly string[] = stringFields(TrackingServerFields.shape);

/** A backend store URI of a database server, which several replicas can share: its scheme, without a driver (`postgresql+psycopg2`). */
const DATABASE_SERVER = /^(postgresql|mysql|mssql)(\+[a-zA-Z0-9+.-]*)?:/i;
/** A URI with a scheme; a one-letter one is a Windows drive. */
const URI_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]+:/;
const FILE_SCHEME = /^file(\+[a-zA-Z0-9+.-]*)?:/i;
/** An artifact store elsewhere than a folder of the server: a URI with a scheme other than `file:`. */
const remoteStore = (term: string) => all(matches(term, URI_SCHEME), not(matches(term, FILE_SCHEME)));
const severalReplicas = above("size", 1);

const RULES: Rule[] = [
  ...bothOrNeither("cert", "key"),
  ...bothOrNeither("aws_access_key", "aws_secret_key"),
  requires("storageClassName", "volumeSize", "is required with `storageClassName`: set the size of the volume"),
  {
    holds: any(not(severalReplicas), matches("backend_uri", DATABASE_SERVER)),
    field: "size",
    message: "several replicas would each have a database of their own behind one Service: set backend_uri to a database server (postgresql://, mysql://, mssql://) or size to 0 or 1",
    problem: (spec: TrackingServerSpec) => {
      const backend = spec.backend_uri === undefined ? "the default SQLite backend" : "a backend_uri that is not a database server";
      return `${spec.size} replicas with ${backend} would each have a database of their own behind one Service: set backend_uri to a database server (postgresql://, mysql://, mssql://) or size to 0 or 1`;
    },
  },
  {
    holds: any(not(severalReplicas), remoteStore("artifact_root")),
    field: "size",
    message: "several replicas would each keep the artifacts they receive in a folder of their own: set artifact_root to a shared store (s3://, gs://, wasbs://, …) or size to 0 or 1",
    problem: (spec: TrackingServerSpec) =>
      `${spec.size} replicas would each keep the artifacts they receive in ${quote(spec.artifact_root ?? DEFAULT_ARTIFACT_ROOT)}, a folder of their own: set artifact_root to a shared store (s3://, gs://, wasbs://, …) or size to 0 or 1`,
  },
  {
    holds: any(not(equals("serveArtifacts", false)), remoteStore("artifact_root")),
    field: "serveArtifacts",
    message: "false makes clients write artifacts to artifact_root themselves, which then must be a store they reach (s3://, gs://, wasbs://, …), not a folder of the server",
    problem: (spec: TrackingServerSpec) =>
      `false makes clients write artifacts to artifact_root themselves, which then must be a store they reach (s3://, gs://, wasbs://, …), not ${quote(spec.artifact_root ?? DEFAULT_ARTIFACT_ROOT)}, a folder of the server`,
  },
  excludes("s3CredentialsSecret", "aws_access_key", "Only one of `s3CredentialsSecret` or `aws_access_key`/`aws_secret_key` may be set"),
];

/**
 * The spec, with its rules between fields. Whether the key is the certificate's takes parsing both, which
 * CEL cannot: only validate checks it.
 */
export const TrackingServerSpec = withRules(
  TrackingServerFields.superRefine((spec, ctx) => {
    const mismatch = spec.cert === undefined || spec.key === undefined ? undefined : keyMismatch(spec.cert, spec.key);
    if (mismatch !== undefined) ctx.addIssue({ code: "custom", path: ["key"], message: mismatch });
  }),
  RULES,
  { unsetWhenEmpty: new Set(TRACKING_SERVER_STRING_FIELDS) },
);
export type TrackingServerSpec = z.infer<typeof TrackingServerSpec>;

/** Where artifacts are kept unless `artifact_root` says otherwise: on the server's volume. */
export const DEFAULT_ARTIFACT_ROOT = `${DATA_DIR}/artifacts`;

/** Whether a backend store URI names a database server, which several replicas can share. */
export function isDatabaseServer(uri: string | undefined): boolean {
  return uri !== undefined && DATABASE_SERVER.test(uri);
}

/** Whether an artifact URI is a folder of the server (unset, a path, `file:`) rather than a store elsewhere. */
export function isLocalStore(uri: string | undefined): boolean {
  return uri === undefined || !URI_SCHEME.test(uri) || FILE_SCHEME.test(uri);
}

/**
 * Whether the server serves artifacts: as the spec says, else when they are kept in a folder of its own
 * (clients could not reach it otherwise). A remote store is written by the clients themselves unless the
 * spec asks for serving, as before serving existed: the server's image then needs the store's client.
 */
export function servesArtifacts(spec: TrackingServerSpec): boolean {
  return spec.serveArtifacts ?? isLocalStore(spec.artifact_root);
}
