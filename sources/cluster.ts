// What the program reads from the cluster: the custom resources (the `cluster` source), the status the
// program wrote on them before (the last applied spec), and which TLS Secrets exist.
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { MANAGED_BY } from "../builders/meta";
import { Kind, KINDS } from "../model/objects";
import { Candidate } from "../model/reconcile";
import { handoverOf } from "../model/takeover";
import { SpecError } from "../model/specs";
import { readSpecFiles } from "./files";

/** A custom resource as listed, in the order objects were created. */
export interface ListedObject {
  kind: Kind;
  raw: Record<string, any>;
}

export interface ClusterState {
  /** Both kinds, oldest first (so that of two clashing objects the later one is rejected). */
  objects: ListedObject[];
  /** `<namespace>/<name>` of every `kubernetes.io/tls` Secret the program does not manage. */
  tlsSecrets: Set<string>;
}

/** client-node, loaded only when the cluster is read: it is large, and most runs under mocks never need it. */
function client(): typeof k8s {
  return require("@kubernetes/client-node") as typeof k8s;
}

/** The kubeconfig (KUBECONFIG, ~/.kube/config) or the pod's service account; undefined when there is neither. */
export function clusterConfig(): k8s.KubeConfig | undefined {
  const kubeconfig = process.env.KUBECONFIG ?? path.join(os.homedir(), ".kube", "config");
  const inCluster = process.env.KUBERNETES_SERVICE_HOST !== undefined;
  if (!inCluster && !kubeconfig.split(path.delimiter).some((file) => fs.existsSync(file))) return undefined;
  const config = new (client().KubeConfig)();
  config.loadFromDefault();
  return config;
}

/** A failed API request, with its HTTP status and the server's answer. */
export class ApiError extends Error {
  constructor(readonly code: number, readonly body: string, method: string, path: string) {
    super(`${method} ${path}: ${code} ${body.slice(0, 300)}`);
  }
}

export interface RawRequest {
  method?: string;
  body?: unknown;
  contentType?: string;
  accept?: string;
}

/**
 * A plain JSON request with the kubeconfig's credentials, for what client-node's typed clients cannot
 * do: ask for a different representation (`as=PartialObjectMetadataList`), or send an object its models
 * do not know, without losing fields. Throws an ApiError on a status of 300 or more.
 */
export async function requestJson(config: k8s.KubeConfig, apiPath: string, request: RawRequest = {}): Promise<any> {
  const method = request.method ?? "GET";
  const server = new URL(config.getCurrentCluster()?.server ?? "");
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const headers: Record<string, string | number> = { Accept: request.accept ?? "application/json" };
  if (payload !== undefined) Object.assign(headers, { "Content-Type": request.contentType ?? "application/json", "Content-Length": Buffer.byteLength(payload) });
  const options: https.RequestOptions = { method, hostname: server.hostname, port: server.port, path: `${server.pathname.replace(/\/$/, "")}${apiPath}`, headers };
  await config.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if ((response.statusCode ?? 0) >= 300) reject(new ApiError(response.statusCode ?? 0, text, method, apiPath));
        else resolve(text === "" ? undefined : JSON.parse(text));
      });
    });
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

interface PartialObjectMetadata { metadata: { name: string; namespace: string; labels?: Record<string, string> } }

/** A LIST that returns metadata only, so Secret values never reach the program. */
async function getMetadataList(config: k8s.KubeConfig, apiPath: string): Promise<PartialObjectMetadata[]> {
  const list = await requestJson(config, apiPath, { accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" });
  return (list as { items: PartialObjectMetadata[] | null }).items ?? [];
}

const byCreation = (a: ListedObject, b: ListedObject) =>
  String(a.raw.metadata?.creationTimestamp ?? "").localeCompare(String(b.raw.metadata?.creationTimestamp ?? "")) ||
  `${a.raw.metadata?.namespace}/${a.raw.metadata?.name}`.localeCompare(`${b.raw.metadata?.namespace}/${b.raw.metadata?.name}`);

/**
 * A request retried while the API server answers 429 with `Retry-After` (its cache of a kind is being
 * (re)built, e.g. just after a CRD or an admission policy on the kind changed), for up to 10 s.
 */
async function whenReady<T>(request: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if ((error as { code?: number }).code !== 429 || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/**
 * Lists both kinds and the TLS Secrets: one LIST per kind across all namespaces, or one per kind and
 * namespace when `namespaces` is not empty. Secrets are listed by metadata only. With `missingKindsEmpty`
 * (the files source, whose first run installs the CRDs) a kind the API server does not serve lists
 * nothing; otherwise that is an error, never an empty list: an API server that has just started answers
 * 404 until it serves the CRDs again, and an empty list would delete every object's children.
 */
export async function readCluster(config: k8s.KubeConfig, namespaces: readonly string[], missingKindsEmpty = false): Promise<ClusterState> {
  const custom = config.makeApiClient(client().CustomObjectsApi);
  const scopes = namespaces.length === 0 ? [undefined] : [...namespaces];
  const objects: ListedObject[] = [];
  const tlsSecrets = new Set<string>();
  for (const namespace of scopes) {
    for (const kind of Object.keys(KINDS) as Kind[]) {
      const { group, version, plural } = KINDS[kind];
      const list = await whenReady(() => namespace === undefined
        ? custom.listClusterCustomObject({ group, version, plural })
        : custom.listNamespacedCustomObject({ group, version, plural, namespace })
      ).catch((error: { code?: number }) => {
        if (error.code === 404 && missingKindsEmpty) return { items: [] };
        throw error;
      }) as { items: Record<string, any>[] };
      objects.push(...list.items.map((raw) => ({ kind, raw })));
    }
    const scope = namespace === undefined ? "" : `/namespaces/${namespace}`;
    const secrets = await getMetadataList(config, `/api/v1${scope}/secrets?fieldSelector=${encodeURIComponent("type=kubernetes.io/tls")}`);
    // The program's own TLS Secrets come and go with `cert`/`key`; only Secrets made elsewhere count.
    for (const { metadata } of secrets) {
      if (metadata.labels?.["app.kubernetes.io/managed-by"] !== MANAGED_BY) tlsSecrets.add(`${metadata.namespace}/${metadata.name}`);
    }
  }
  return { objects: objects.sort(byCreation), tlsSecrets };
}

function lastAppliedSpec(raw: Record<string, any>): Record<string, unknown> | undefined {
  const spec = raw.status?.lastAppliedSpec;
  return typeof spec === "object" && spec !== null ? spec : undefined;
}

/** The `cluster` source: every listed object, with the spec last applied for it. */
export function clusterCandidates(state: ClusterState): Candidate[] {
  return state.objects.map(({ kind, raw }) => ({ raw, lastAppliedSpec: lastAppliedSpec(raw), handover: handoverOf(kind, raw) }));
}

/**
 * The `files` source: the objects in the YAML files, each with the uid of its custom resource and the
 * spec last applied for it when the cluster has the object (so a bad edit of a file keeps what the last
 * good one made).
 */
export function fileCandidates(paths: readonly string[], state: ClusterState | undefined): { candidates: Candidate[]; errors: SpecError[] } {
  const inCluster = new Map<string, Record<string, any>>();
  for (const { kind, raw } of state?.objects ?? []) inCluster.set(`${kind}/${raw.metadata?.namespace}/${raw.metadata?.name}`, raw);
  const { entries, errors } = readSpecFiles(paths);
  const candidates = entries.map((entry): Candidate => {
    const raw = entry.raw as { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown } };
    const existing = inCluster.get(`${String(raw?.kind)}/${String(raw?.metadata?.namespace ?? "default")}/${String(raw?.metadata?.name)}`);
    const uid = typeof existing?.metadata?.uid === "string" ? (existing.metadata.uid as string) : undefined;
    const handover = existing === undefined ? undefined : handoverOf(String(raw?.kind), existing);
    return { ...entry, uid, lastAppliedSpec: existing === undefined ? undefined : lastAppliedSpec(existing), handover };
  });
  return { candidates, errors };
}
