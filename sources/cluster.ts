// What the program reads from the cluster: the custom resources (the `cluster` source), the status the
// program wrote on them before (the last applied spec), the metadata of the objects its children and
// references could meet (model/existing.ts), and what the API server says of applying a child (dry run).
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { Manifest, MANAGED_BY } from "../builders/meta";
import { ExistingObject, existingObject, indexExisting, LISTED_KINDS, ListedKind } from "../model/existing";
import { Kind, KINDS } from "../model/objects";
import { RECREATED_ANNOTATION } from "../model/markers";
import { Candidate } from "../model/reconcile";
import { FIELD_MANAGER, handoverOf } from "../model/takeover";
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
  /** The Secrets, ConfigMaps, Services, claims, Deployments and Ingresses of the namespaces read, by metadata. */
  existing: Map<string, ExistingObject>;
  /** Served namespaces where the program may read nothing (403): left out of the run. */
  forbidden?: string[];
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

interface PartialObjectMetadata { metadata: Record<string, any> }

/** A LIST that returns metadata only, so Secret values never reach the program. */
async function getMetadataList(config: k8s.KubeConfig, apiPath: string): Promise<PartialObjectMetadata[]> {
  const list = await requestJson(config, apiPath, { accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" });
  return (list as { items: PartialObjectMetadata[] | null }).items ?? [];
}

/**
 * Secrets as the API server prints them (`kubectl get secrets`: name, type, number of keys, age), each
 * with its metadata: their type too, still in one LIST, and still no value.
 */
async function getSecretTable(config: k8s.KubeConfig, apiPath: string): Promise<{ metadata: Record<string, any>; type?: string }[]> {
  const separator = apiPath.includes("?") ? "&" : "?";
  const table = await requestJson(config, `${apiPath}${separator}includeObject=Metadata`, { accept: "application/json;as=Table;g=meta.k8s.io;v=v1" }) as {
    columnDefinitions?: { name: string }[];
    rows?: { cells: unknown[]; object?: PartialObjectMetadata }[] | null;
  };
  const typeColumn = (table.columnDefinitions ?? []).findIndex((column) => column.name === "Type");
  return (table.rows ?? []).map((row) => ({ metadata: row.object?.metadata ?? {}, type: typeColumn < 0 ? undefined : String(row.cells[typeColumn]) }));
}

/** The objects of one listed kind in one namespace (all when undefined), by metadata. */
async function listExisting(config: k8s.KubeConfig, kind: ListedKind, namespace: string | undefined): Promise<ExistingObject[]> {
  const listed = LISTED_KINDS.find((entry) => entry.kind === kind)!;
  const base = listed.apiVersion.includes("/") ? `/apis/${listed.apiVersion}` : `/api/${listed.apiVersion}`;
  const apiPath = `${base}${namespace === undefined ? "" : `/namespaces/${namespace}`}/${listed.plural}`;
  if (kind === "Secret") return (await whenReady(() => getSecretTable(config, apiPath))).map(({ metadata, type }) => existingObject(kind, metadata, type));
  return (await whenReady(() => getMetadataList(config, apiPath))).map(({ metadata }) => existingObject(kind, metadata));
}

/** Runs `task` on every item, at most `limit` at once. */
async function eachLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** How many LISTs or dry runs the program has in flight at once. */
const PARALLEL_REQUESTS = 8;

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
 * Lists both kinds, then the objects of `LISTED_KINDS` by metadata: one LIST per kind across all
 * namespaces, or one per kind and namespace when `namespaces` is not empty. With `missingKindsEmpty`
 * (the files source, whose first run installs the CRDs) a custom kind the API server does not serve lists
 * nothing; otherwise that is an error, never an empty list: an API server that has just started answers
 * 404 until it serves the CRDs again, and an empty list would delete every object's children.
 */
export async function readCluster(config: k8s.KubeConfig, namespaces: readonly string[], missingKindsEmpty = false): Promise<ClusterState> {
  const custom = config.makeApiClient(client().CustomObjectsApi);
  const objects: ListedObject[] = [];
  const scopes: (string | undefined)[] = [];
  const forbidden: string[] = [];
  for (const namespace of namespaces.length === 0 ? [undefined] : namespaces) {
    const found: ListedObject[] = [];
    try {
      for (const kind of Object.keys(KINDS) as Kind[]) {
        const { group, version, plural } = KINDS[kind];
        const list = await whenReady(() => namespace === undefined
          ? custom.listClusterCustomObject({ group, version, plural })
          : custom.listNamespacedCustomObject({ group, version, plural, namespace })
        ).catch((error: { code?: number }) => {
          if (error.code === 404 && missingKindsEmpty) return { items: [] };
          throw error;
        }) as { items: Record<string, any>[] };
        found.push(...list.items.map((raw) => ({ kind, raw })));
      }
    } catch (error) {
      // A served namespace where the program may read nothing any more: deleted (its RoleBinding went
      // with it), or taken out of the stack by the bootstrap. Its objects leave this run, which deletes
      // none of their children (they are `deletedWith` an anchor: components/children.ts).
      if (namespace === undefined || (error as { code?: number }).code !== 403) throw error;
      forbidden.push(namespace);
      continue;
    }
    objects.push(...found);
    scopes.push(namespace);
  }
  const lists = scopes.flatMap((namespace) => LISTED_KINDS.map(({ kind }) => ({ kind, namespace })));
  const listed = (await eachLimited(lists, PARALLEL_REQUESTS, ({ kind, namespace }) => listExisting(config, kind, namespace))).flat();
  // The program's own TLS Secrets come and go with `cert`/`key`; only Secrets made elsewhere count.
  const tlsSecrets = new Set(listed
    .filter((object) => object.kind === "Secret" && object.type === "kubernetes.io/tls" && object.labels["app.kubernetes.io/managed-by"] !== MANAGED_BY)
    .map((object) => `${object.namespace}/${object.name}`));
  return { objects: objects.sort(byCreation), tlsSecrets, existing: indexExisting(listed), forbidden };
}

/** How long a dry run may take: an admission webhook may take up to 30 s, and then the apply will tell. */
const DRY_RUN_TIMEOUT_MS = 35_000;

/** The API path of a namespaced object: `/api/v1/...` for the core group, `/apis/<group>/<version>/...` otherwise. */
function objectPath(manifest: Manifest): string {
  const { namespace, name } = manifest.metadata;
  const plural = LISTED_KINDS.find((listed) => listed.kind === manifest.kind)?.plural ?? `${manifest.kind.toLowerCase()}s`;
  const base = manifest.apiVersion.includes("/") ? `/apis/${manifest.apiVersion}` : `/api/${manifest.apiVersion}`;
  return `${base}/namespaces/${namespace}/${plural}/${name}`;
}

/**
 * What the API server says of applying `manifest` (a namespaced object, e.g. a child) as the program
 * would: a server-side dry run, so nothing is stored or allocated, and admission (quotas, webhooks,
 * policies) runs as for a real apply. The message of a refusal (a 4xx other than 429), undefined when it
 * would be accepted; other failures (5xx, 429, no answer within 35 s) are thrown.
 */
export async function dryRunApply(config: k8s.KubeConfig, manifest: Manifest): Promise<string | undefined> {
  const apiPath = `${objectPath(manifest)}?dryRun=All&fieldManager=${FIELD_MANAGER}&force=true`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`PATCH ${apiPath}: no answer within ${DRY_RUN_TIMEOUT_MS / 1000} s`)), DRY_RUN_TIMEOUT_MS);
    timer.unref();
  });
  try {
    await Promise.race([requestJson(config, apiPath, { method: "PATCH", body: manifest, contentType: "application/apply-patch+yaml" }), timeout]);
    return undefined;
  } catch (error) {
    if (!(error instanceof ApiError) || error.code < 400 || error.code >= 500 || error.code === 429) throw error;
    try {
      return String((JSON.parse(error.body) as { message?: unknown }).message ?? error.body);
    } catch {
      return error.body;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** What a dry run answered: a refusal's message, or the failure that left the question open. */
export interface DryRunAnswer {
  refused?: string;
  failed?: string;
}

/** `dryRunApply` of every manifest, a few at a time, in order; one failure does not stop the others. */
export function dryRunAll(config: k8s.KubeConfig, manifests: readonly Manifest[]): Promise<DryRunAnswer[]> {
  return eachLimited(manifests, PARALLEL_REQUESTS, (manifest) =>
    dryRunApply(config, manifest).then(
      (refused): DryRunAnswer => (refused === undefined ? {} : { refused }),
      (error: Error): DryRunAnswer => ({ failed: error.message }),
    ),
  );
}

function lastAppliedSpec(raw: Record<string, any>): Record<string, unknown> | undefined {
  const spec = raw.status?.lastAppliedSpec;
  return typeof spec === "object" && spec !== null ? spec : undefined;
}

/** Whether the custom resource is being deleted (its finalizers hold it). */
const isDeleting = (raw: Record<string, any>) => typeof raw.metadata?.deletionTimestamp === "string";

/** The `cluster` source: every listed object, with the spec last applied for it. */
export function clusterCandidates(state: ClusterState): Candidate[] {
  return state.objects.map(({ kind, raw }) => ({ raw, lastAppliedSpec: lastAppliedSpec(raw), handover: handoverOf(kind, raw), deleting: isDeleting(raw) }));
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
    const recreated = existing?.metadata?.annotations?.[RECREATED_ANNOTATION];
    return { ...entry, uid, lastAppliedSpec: existing === undefined ? undefined : lastAppliedSpec(existing), handover, deleting: existing !== undefined && isDeleting(existing), recreated: typeof recreated === "string" ? recreated : undefined };
  });
  return { candidates, errors };
}
