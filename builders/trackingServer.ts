// TrackingServer → Kubernetes objects, as pure functions of the spec. The component registers exactly
// these objects and `render` prints them, so the two cannot drift apart.
//
// `@pulumi/kubernetesx` is not used here: its PodBuilder returns Pulumi Outputs (so `render` and
// `validate` would need the Pulumi engine) and replaces the pod labels with `{app: <container>}`.
import { TrackingServerObject as TrackingServer } from "../model/objects";
import { DATA_DIR, DEFAULT_ARTIFACT_ROOT, servesArtifacts, TRACKING_SERVER_APP } from "../model/trackingServer";
import { childLabels, childMetadata, Manifest, RESTRICTED_CONTAINER, RUNTIME_DEFAULT_SECCOMP } from "./meta";

export const MLFLOW_PORT = 5000;
export const PORT_NAME = "server";
export const DEFAULT_BACKEND_URI = `sqlite:///${DATA_DIR}/mlflow.db`;

/**
 * The server container's resources unless the spec sets its own: measured with MLflow 3.1.1 (gunicorn,
 * 4 workers) logging runs, metrics and artifacts (test/mlflow).
 */
export const DEFAULT_RESOURCES = { requests: { cpu: "250m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } };

/** The startup probe: MLflow may take this long to answer its first probe. */
export const STARTUP_PROBE = { periodSeconds: 5, failureThreshold: 60 };
export const STARTUP_BUDGET_SECONDS = STARTUP_PROBE.periodSeconds * STARTUP_PROBE.failureThreshold;

/**
 * The user and group the server runs as. The official image (mlflow/mlflow `docker/Dockerfile`: `FROM
 * python:3.x-slim` and `pip install mlflow`) sets no USER, so it would run as root, and `mlflow server`
 * never changes its user; it writes only to /mlflow and /tmp (gunicorn's files, HOME), so any user id
 * serves. 1000, like crdstack's watcher.
 */
export const SERVER_USER = 1000;

/**
 * The pod's security settings: the restricted Pod Security Standard, as SERVER_USER. The volume at /mlflow
 * belongs to that group (`fsGroup`), so SQLite and artifacts written there by an earlier server as root
 * become writable too; its ownership is changed only when its top folder's does not match.
 * https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#configure-volume-permission-and-ownership-change-policy-for-pods
 */
export const POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: SERVER_USER,
  runAsGroup: SERVER_USER,
  fsGroup: SERVER_USER,
  fsGroupChangePolicy: "OnRootMismatch",
  ...RUNTIME_DEFAULT_SECCOMP,
};

/**
 * The server's home. SERVER_USER has no entry in the image's /etc/passwd, so the container runtime sets
 * HOME to `/`, which that user cannot write; `/tmp` is writable by all in the image. Newer MLflow writes
 * there (its telemetry id under `~/.config/mlflow`, the assistant's files under `~/.mlflow`).
 */
export const SERVER_HOME = "/tmp";

export interface TrackingServerOptions {
  /** Image for specs that set none. */
  defaultImage: string;
  /** IngressClass of the Ingress; unset uses the cluster default. */
  ingressClassName?: string;
  /** A `kubernetes.io/tls` Secret named like the server that already exists in its namespace. */
  existingTlsSecret?: boolean;
}

/** The children of one TrackingServer; optional ones are `undefined` when their fields are not set. */
export interface TrackingServerChildren {
  credentials: Manifest;
  tlsSecret: Manifest | undefined;
  volumeClaim: Manifest | undefined;
  service: Manifest;
  ingress: Manifest | undefined;
  deployment: Manifest;
}

export const credentialsSecretName = (object: TrackingServer) => `${object.metadata.name}-credentials`;

/** The path the server is served under: the URL's path without a trailing slash, "" for the root. */
export function servedPath(url: string | undefined): string {
  return url === undefined ? "" : new URL(url).pathname.replace(/\/+$/, "");
}

/**
 * The original controller's selector, `{app: trackingserver, ts_name: <name>}`, kept: a Deployment's
 * selector cannot change, so the servers it made are taken over as they run.
 */
function selector(object: TrackingServer) {
  return { app: TRACKING_SERVER_APP, ts_name: object.metadata.name };
}

function labels(object: TrackingServer) {
  return { ...selector(object), ...childLabels(object, "mlflow") };
}

/** Environment variable (from the credentials Secret) that holds the backend store URI. */
export const BACKEND_URI_ENV = "MLFLOW_BACKEND_STORE_URI";

/** The backend store URI, which may embed a database password, and the S3 keys when set. */
export function credentialsSecret(object: TrackingServer): Manifest {
  const { aws_access_key, aws_secret_key, backend_uri } = object.spec;
  const stringData: Record<string, string> = { [BACKEND_URI_ENV]: backend_uri ?? DEFAULT_BACKEND_URI };
  if (aws_access_key !== undefined && aws_secret_key !== undefined) {
    stringData.AWS_ACCESS_KEY_ID = aws_access_key;
    stringData.AWS_SECRET_ACCESS_KEY = aws_secret_key;
  }
  return { apiVersion: "v1", kind: "Secret", metadata: childMetadata(object, credentialsSecretName(object), labels(object)), type: "Opaque", stringData };
}

export function tlsSecret(object: TrackingServer): Manifest | undefined {
  const { cert, key } = object.spec;
  if (cert === undefined || key === undefined) return undefined;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMetadata(object, object.metadata.name, labels(object)),
    type: "kubernetes.io/tls",
    stringData: { "tls.crt": cert, "tls.key": key },
  };
}

/** The claim mounted at /mlflow, when `volumeSize` is set; without `storageClassName`, of the cluster's default class. */
export function volumeClaim(object: TrackingServer): Manifest | undefined {
  const { volumeSize, storageClassName } = object.spec;
  if (volumeSize === undefined) return undefined;
  const spec: Record<string, unknown> = { accessModes: ["ReadWriteOnce"] };
  if (storageClassName !== undefined) spec.storageClassName = storageClassName;
  spec.resources = { requests: { storage: volumeSize } };
  return { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: childMetadata(object, object.metadata.name, labels(object)), spec };
}

export function service(object: TrackingServer): Manifest {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMetadata(object, object.metadata.name, labels(object)),
    spec: { type: "ClusterIP", selector: selector(object), ports: [{ name: PORT_NAME, port: MLFLOW_PORT, targetPort: PORT_NAME, protocol: "TCP" }] },
  };
}

export function ingress(object: TrackingServer, options: TrackingServerOptions): Manifest | undefined {
  const { url, cert } = object.spec;
  if (url === undefined) return undefined;
  const host = new URL(url).hostname;
  const prefix = servedPath(url);
  const backend = { service: { name: object.metadata.name, port: { name: PORT_NAME } } };
  // MLflow serves its UI under --static-prefix, but before 3.12 not its REST API (`/api/2.0/...`, see
  // `_get_rest_path` in mlflow/server/handlers.py), so a server under a path also gets `/api` on its host.
  const paths = [prefix === "" ? "/" : prefix, ...(prefix === "" ? [] : ["/api"])].map((path) => ({ path, pathType: "Prefix", backend }));
  const spec: Record<string, unknown> = {};
  if (options.ingressClassName !== undefined) spec.ingressClassName = options.ingressClassName;
  spec.rules = [{ host, http: { paths } }];
  if (cert !== undefined || options.existingTlsSecret === true) spec.tls = [{ hosts: [host], secretName: object.metadata.name }];
  return { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: childMetadata(object, object.metadata.name, labels(object)), spec };
}

/**
 * Host headers the server accepts (MLflow 3.5 on; 3.1 has no Host check and ignores it): the public host
 * and the Service's cluster names, with any port.
 */
export function allowedHosts(object: TrackingServer): string {
  const { name, namespace } = object.metadata;
  const hosts = [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`, "localhost", "127.0.0.1"];
  if (object.spec.url !== undefined) hosts.unshift(new URL(object.spec.url).hostname);
  return hosts.flatMap((host) => [host, `${host}:*`]).join(",");
}

/** A spec value in a command or env value, where Kubernetes would expand `$(NAME)`: each `$` escaped as `$$`. */
const literal = (value: string) => value.replace(/\$/g, "$$$$");

export function serverCommand(object: TrackingServer): string[] {
  const { url } = object.spec;
  const artifactRoot = literal(object.spec.artifact_root ?? DEFAULT_ARTIFACT_ROOT);
  const command = ["mlflow", "server", "--host", "0.0.0.0", "--port", String(MLFLOW_PORT)];
  // Kubernetes expands $(VAR) from the container's env, so the URI stays in the Secret.
  command.push("--backend-store-uri", `$(${BACKEND_URI_ENV})`);
  // Served, runs get `mlflow-artifacts:/` URIs that clients resolve through the server; otherwise each
  // client writes to the root itself.
  if (servesArtifacts(object.spec)) command.push("--serve-artifacts", "--artifacts-destination", artifactRoot);
  else command.push("--no-serve-artifacts", "--default-artifact-root", artifactRoot);
  const prefix = servedPath(url);
  if (prefix !== "") command.push("--static-prefix", literal(prefix));
  return command;
}

function environment(object: TrackingServer) {
  const fromSecret = (key: string) => ({ name: key, valueFrom: { secretKeyRef: { name: credentialsSecretName(object), key } } });
  const env: Record<string, unknown>[] = [fromSecret(BACKEND_URI_ENV)];
  if (object.spec.s3_endpoint_url !== undefined) env.push({ name: "MLFLOW_S3_ENDPOINT_URL", value: literal(object.spec.s3_endpoint_url) });
  const keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
  if (object.spec.s3CredentialsSecret !== undefined) {
    const name = object.spec.s3CredentialsSecret;
    env.push(...keys.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name, key } } })));
  } else if (object.spec.aws_access_key !== undefined) {
    env.push(...keys.map(fromSecret));
  }
  env.push({ name: "MLFLOW_SERVER_ALLOWED_HOSTS", value: allowedHosts(object) });
  env.push({ name: "HOME", value: SERVER_HOME });
  return env;
}

export function deployment(object: TrackingServer, options: TrackingServerOptions): Manifest {
  const persistent = volumeClaim(object) !== undefined;
  // The probes pass on every MLflow 3: `/health` is at the root until 3.6 and under --static-prefix from
  // 3.7, so a server under a path is probed on its UI page, which both serve there. The kubelet probes the
  // pod IP, which the Host check (3.5 on) rejects: probe as localhost.
  const prefix = servedPath(object.spec.url);
  const health = {
    httpGet: { path: prefix === "" ? "/health" : `${prefix}/`, port: PORT_NAME, httpHeaders: [{ name: "Host", value: "localhost" }] },
    timeoutSeconds: 5,
  };
  // The two kinds of volume have different names: a server-side apply that turns one into the other
  // then replaces the list entry instead of merging two volume sources into one.
  const data = persistent ? { name: "data", persistentVolumeClaim: { claimName: object.metadata.name } } : { name: "scratch", emptyDir: {} };
  const container = {
    name: "mlflow",
    image: object.spec.image ?? options.defaultImage,
    command: serverCommand(object),
    ports: [{ name: PORT_NAME, containerPort: MLFLOW_PORT, protocol: "TCP" }],
    env: environment(object),
    volumeMounts: [{ name: data.name, mountPath: DATA_DIR }],
    resources: object.spec.resources ?? DEFAULT_RESOURCES,
    // A first start creates the database (MLflow runs its migrations), later ones may upgrade it: the
    // other probes wait until the server has answered once, for up to STARTUP_BUDGET_SECONDS.
    startupProbe: { ...health, periodSeconds: STARTUP_PROBE.periodSeconds, failureThreshold: STARTUP_PROBE.failureThreshold },
    readinessProbe: { ...health, periodSeconds: 10 },
    livenessProbe: { ...health, periodSeconds: 10, failureThreshold: 3 },
    securityContext: RESTRICTED_CONTAINER,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: childMetadata(object, object.metadata.name, labels(object)),
    spec: {
      replicas: object.spec.size,
      // A ReadWriteOnce volume cannot be attached to the old and the new pod at once. The rolling-update
      // parameters are the API defaults, set here so that switching to Recreate removes them.
      strategy: persistent ? { type: "Recreate" } : { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      selector: { matchLabels: selector(object) },
      // MLflow never calls the Kubernetes API: no service-account token in the pod for the code to use.
      template: { metadata: { labels: labels(object) }, spec: { automountServiceAccountToken: false, securityContext: POD_SECURITY, containers: [container], volumes: [data] } },
    },
  };
}

export function buildTrackingServer(object: TrackingServer, options: TrackingServerOptions): TrackingServerChildren {
  return {
    credentials: credentialsSecret(object),
    tlsSecret: tlsSecret(object),
    volumeClaim: volumeClaim(object),
    service: service(object),
    ingress: ingress(object, options),
    deployment: deployment(object, options),
  };
}
