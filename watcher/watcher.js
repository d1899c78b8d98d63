// @ts-check
// The crdstack watcher: watches TrackingServers and EasyServices and, on every create, delete,
// `metadata.generation` change or start of a deletion (never on status or metadata-only writes), sets the
// annotation `pulumi.com/reconciliation-request` on the Pulumi Kubernetes Operator `Stack` that owns the
// object, so the operator runs `pulumi up` within seconds. It also watches the children crdstack manages
// (Deployments, Services, Ingresses, PersistentVolumeClaims labelled managed-by=crdstack) and triggers
// on any change of one: drift to put back, or a Deployment's status (a pod no longer ready) to report.
// Bursts are coalesced per Stack. A run that changes nothing causes no trigger: the program's status
// write keeps the generation, and an unchanged apply does not write the object.
//
// It lists and watches metadata only (PartialObjectMetadata), in the namespaces its Stacks serve: it
// never reads a spec, and its RBAC holds no cluster-wide right.
//
// It runs in a stock Node.js image with this file mounted from a ConfigMap, so it uses Node's own
// modules only. It reads its configuration from WATCHER_CONFIG (JSON) and talks to the API server as its
// pod's service account. It exits non-zero on errors it cannot recover from, so Kubernetes restarts it.
"use strict";

const fs = require("node:fs");
const https = require("node:https");

/** @typedef {{ namespace: string, name: string, namespaces: string[] }} StackRef */
/** @typedef {{ debounceMs: number, maxWaitMs: number, stacks: StackRef[] }} Config */
/** @typedef {{ type: "created" | "updated" | "deleting" | "deleted", kind: string, namespace: string, name: string }} Change */
/** @typedef {{ namespace: string, name: string, generation: number, deleting: boolean, resourceVersion: string }} Known */
/** @typedef {{ kind: string, api: string, plural: string, child: boolean }} Kind */

/** The custom resources (a change is a new generation) and the children (any change counts). */
const KINDS = /** @type {Kind[]} */ ([
  { kind: "TrackingServer", api: "/apis/experiment.aiscope/v1alpha2", plural: "trackingservers", child: false },
  { kind: "EasyService", api: "/apis/app.kubebuilder.io/v1", plural: "easyservices", child: false },
  { kind: "Deployment", api: "/apis/apps/v1", plural: "deployments", child: true },
  { kind: "Service", api: "/api/v1", plural: "services", child: true },
  { kind: "PersistentVolumeClaim", api: "/api/v1", plural: "persistentvolumeclaims", child: true },
  { kind: "Ingress", api: "/apis/networking.k8s.io/v1", plural: "ingresses", child: true },
]);
/** Only what crdstack manages: other workloads in a tenant's namespace are none of its business. */
const CHILD_SELECTOR = "app.kubernetes.io/managed-by=crdstack";
const ANNOTATION = "pulumi.com/reconciliation-request";
/** Metadata only: the watcher needs uid, generation and deletionTimestamp, never a spec. */
const LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/**
 * Keeps what is known of one kind's objects, and turns list results and watch events into changes. For
 * a custom resource, a change is a create, a delete, a new generation or the start of a deletion; for a
 * child (`child`), every event is one.
 */
class Tracker {
  /** @param {string} kind @param {boolean} [child] */
  constructor(kind, child = false) {
    this.kind = kind;
    this.child = child;
    /** @type {Map<string, Known>} by uid */
    this.known = new Map();
    this.resourceVersion = "";
  }

  /** @param {any} object @returns {Known} */
  static entry(object) {
    const { metadata } = object;
    return { namespace: metadata.namespace, name: metadata.name, generation: metadata.generation ?? 0, deleting: Boolean(metadata.deletionTimestamp), resourceVersion: metadata.resourceVersion ?? "" };
  }

  /** What changed from `before` to `now` of one object, if anything counts. @param {Known} before @param {Known} now @returns {Change["type"] | undefined} */
  compare(before, now) {
    if (this.child) return before.resourceVersion !== now.resourceVersion ? "updated" : undefined;
    if (now.deleting && !before.deleting) return "deleting";
    return before.generation !== now.generation ? "updated" : undefined;
  }

  /**
   * Replaces what is known by a fresh list, and returns what changed since: objects created, deleted
   * or given a new generation while the watch was not running.
   * @param {any[]} items @param {string} resourceVersion @returns {Change[]}
   */
  relist(items, resourceVersion) {
    /** @type {Change[]} */
    const changes = [];
    const fresh = new Map(items.map((item) => [item.metadata.uid, Tracker.entry(item)]));
    for (const [uid, now] of fresh) {
      const before = this.known.get(uid);
      const type = before === undefined ? "created" : this.compare(before, now);
      if (type !== undefined) changes.push({ type, kind: this.kind, namespace: now.namespace, name: now.name });
    }
    for (const [uid, before] of this.known) {
      if (!fresh.has(uid)) changes.push({ type: "deleted", kind: this.kind, namespace: before.namespace, name: before.name });
    }
    this.known = fresh;
    this.resourceVersion = resourceVersion;
    return changes;
  }

  /** @param {{ type: string, object: any }} event @returns {Change | undefined} */
  apply(event) {
    const object = event.object;
    if (object?.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
    if (event.type === "BOOKMARK") return undefined;
    const uid = object.metadata.uid;
    const before = this.known.get(uid);
    const now = Tracker.entry(object);
    const change = (/** @type {Change["type"]} */ type) => ({ type, kind: this.kind, namespace: now.namespace, name: now.name });
    if (event.type === "DELETED") {
      this.known.delete(uid);
      return change("deleted");
    }
    this.known.set(uid, now);
    if (before === undefined) return change("created");
    if (this.child) return change("updated");
    const type = this.compare(before, now);
    return type === undefined ? undefined : change(type);
  }
}

/** The Stack that serves `namespace`: the first that lists it. */
function stackFor(/** @type {Config} */ config, /** @type {string} */ namespace) {
  return config.stacks.find((stack) => stack.namespaces.includes(namespace));
}

/** Every namespace some Stack serves, once. @param {Config} config */
function servedNamespaces(config) {
  return [...new Set(config.stacks.flatMap((stack) => stack.namespaces))];
}

/** The collection path of `kind` in `namespace`, and its label selector query (children only). @param {Kind} kind @param {string} namespace */
function collection(kind, namespace) {
  return { path: `${kind.api}/namespaces/${namespace}/${kind.plural}`, query: kind.child ? `labelSelector=${encodeURIComponent(CHILD_SELECTOR)}&` : "" };
}

/**
 * Coalesces changes per Stack: a trigger fires `debounceMs` after the last change, and never later than
 * `maxWaitMs` after the first, so a steady stream of changes still triggers.
 */
class Debouncer {
  /** @param {Config} config @param {(stack: StackRef, changes: Change[]) => Promise<void>} fire */
  constructor(config, fire) {
    this.config = config;
    this.fire = fire;
    /** @type {Map<string, { stack: StackRef, changes: Change[], first: number, timer: NodeJS.Timeout }>} */
    this.pending = new Map();
  }

  /** @param {Change} change */
  add(change) {
    const stack = stackFor(this.config, change.namespace);
    if (stack === undefined) return;
    const key = `${stack.namespace}/${stack.name}`;
    const now = Date.now();
    const entry = this.pending.get(key);
    if (entry !== undefined) clearTimeout(entry.timer);
    const first = entry?.first ?? now;
    const changes = [...(entry?.changes ?? []), change];
    const delay = Math.max(0, Math.min(this.config.debounceMs, first + this.config.maxWaitMs - now));
    const timer = setTimeout(() => {
      this.pending.delete(key);
      void this.fire(stack, changes);
    }, delay);
    this.pending.set(key, { stack, changes, first, timer });
  }
}

/** The API server and credentials of the pod's service account (SERVICEACCOUNT_DIR moves them for tests). */
function connection() {
  const dir = process.env.SERVICEACCOUNT_DIR ?? "/var/run/secrets/kubernetes.io/serviceaccount";
  return {
    host: process.env.KUBERNETES_SERVICE_HOST ?? "kubernetes.default.svc",
    port: Number(process.env.KUBERNETES_SERVICE_PORT ?? 443),
    ca: fs.readFileSync(`${dir}/ca.crt`),
    // Read on every request: projected service-account tokens are rotated.
    token: () => fs.readFileSync(`${dir}/token`, "utf8").trim(),
  };
}

/** An error the watcher cannot fix by retrying: it exits and lets Kubernetes restart it. */
class Fatal extends Error {}

/** A namespace the watcher may not list or watch: that watch stops, the others go on (see `main`). */
class Denied extends Error {}

/** A request that saw no data for its timeout: for a watch, a connection that died without closing. */
class Idle extends Error {}

/**
 * One request. With `onLine`, the response is a watch stream, read line by line until it ends.
 * @param {ReturnType<typeof connection>} conn @param {string} method @param {string} path
 * @param {{ body?: unknown, contentType?: string, accept?: string, onLine?: (line: string) => void, timeoutMs?: number }} [options]
 * @returns {Promise<{ status: number, body: any }>}
 */
function request(conn, method, path, options = {}) {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = /** @type {Record<string, string | number>} */ ({ Authorization: `Bearer ${conn.token()}`, Accept: options.accept ?? "application/json" });
    if (payload !== undefined) Object.assign(headers, { "Content-Type": options.contentType ?? "application/json", "Content-Length": Buffer.byteLength(payload) });
    const req = https.request({ host: conn.host, port: conn.port, method, path, ca: conn.ca, headers }, (res) => {
      const status = res.statusCode ?? 0;
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (/** @type {string} */ chunk) => {
        buffer += chunk;
        if (options.onLine === undefined || status >= 300) return;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim() === "") continue;
          try {
            options.onLine(line);
          } catch (error) {
            req.destroy(/** @type {Error} */ (error));
            return;
          }
        }
      });
      res.on("end", () => resolve({ status, body: options.onLine === undefined || status >= 300 ? safeJson(buffer) : undefined }));
      res.on("error", reject);
    });
    if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy(new Idle(`no answer in ${options.timeoutMs} ms`)));
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function safeJson(/** @type {string} */ text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const log = (/** @type {string} */ line) => console.log(`${new Date().toISOString()} ${line}`);

/** Sets the annotation on the Stack; a missing Stack or a denied request cannot be fixed by retrying. */
async function trigger(/** @type {ReturnType<typeof connection>} */ conn, /** @type {StackRef} */ stack, /** @type {Change[]} */ changes) {
  const value = new Date().toISOString();
  const path = `/apis/pulumi.com/v1/namespaces/${stack.namespace}/stacks/${stack.name}`;
  const body = { metadata: { annotations: { [ANNOTATION]: value } } };
  for (let attempt = 1; ; attempt++) {
    try {
      const { status, body: answer } = await request(conn, "PATCH", path, { body, contentType: "application/merge-patch+json", timeoutMs: 10_000 });
      if (status < 300) break;
      if (status === 404) throw new Fatal(`PATCH ${path}: ${status} ${answer?.message ?? ""}`);
      // A restarted API server may deny requests until its authorization caches are filled: retry a
      // 401 or 403 a few times before giving up on it.
      throw new Error(`PATCH ${path}: ${status} ${answer?.message ?? ""}`);
    } catch (error) {
      if (error instanceof Fatal) throw error;
      if (attempt >= 5) throw new Fatal(/** @type {Error} */ (error).message);
      await sleep(200 * 2 ** attempt);
    }
  }
  const what = changes.slice(0, 5).map((c) => `${c.kind} ${c.namespace}/${c.name} ${c.type}`).join(", ");
  log(`trigger ${stack.namespace}/${stack.name} ${ANNOTATION}=${value}: ${changes.length} change(s): ${what}${changes.length > 5 ? ", ..." : ""}`);
}

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lists then watches one kind in one namespace for ever, metadata only. A watch that ends is resumed from
 * the last resource version; an expired one (410) is replaced by a fresh list, compared with what was
 * known, so no change is lost.
 * @param {ReturnType<typeof connection>} conn @param {Kind} kind @param {string} namespace
 * @param {(change: Change) => void} onChange @param {() => void} onReady
 */
async function watchKind(conn, kind, namespace, onChange, onReady) {
  const tracker = new Tracker(kind.kind, kind.child);
  const { path: base, query } = collection(kind, namespace);
  let failures = 0;
  let listed = false;
  for (;;) {
    try {
      if (tracker.resourceVersion === "") {
        const { status, body } = await request(conn, "GET", `${base}?${query}`, { accept: LIST_ACCEPT, timeoutMs: 30_000 });
        // Denied at the first LIST: this namespace is not the watcher's (deleted, with its RoleBinding, or
        // its RBAC is missing); `main` fails when no namespace is. Denied later: see below.
        if ((status === 401 || status === 403) && !listed) throw new Denied(`LIST ${base}: ${status} ${body?.message ?? ""}`);
        if (status >= 300) throw new Error(`LIST ${base}: ${status}`);
        failures = 0;
        const changes = tracker.relist(body.items ?? [], body.metadata.resourceVersion);
        if (listed) changes.forEach(onChange);
        else onReady();
        listed = true;
      }
      let expired = false;
      const path = `${base}?${query}watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${tracker.resourceVersion}`;
      // An idle timeout catches a connection that died without closing: bookmarks keep a live one busy.
      const { status } = await request(conn, "GET", path, {
        accept: WATCH_ACCEPT,
        timeoutMs: 150_000,
        onLine: (line) => {
          const event = JSON.parse(line);
          if (event.type === "ERROR") {
            expired = event.object?.code === 410;
            if (!expired) throw new Error(`watch ${base}: ${event.object?.message ?? line}`);
            return;
          }
          failures = 0;
          const change = tracker.apply(event);
          if (change !== undefined) onChange(change);
        },
      });
      if (status < 300) failures = 0;
      if (status === 410 || expired) {
        log(`watch of ${kind.kind} in ${namespace} expired (410): listing again`);
        tracker.resourceVersion = "";
      } else if (status >= 300) {
        throw new Error(`WATCH ${base}: ${status}`);
      }
    } catch (error) {
      if (error instanceof Fatal || error instanceof Denied) throw error;
      // A watch idle for its whole timeout is renewed, like one the server ended.
      if (error instanceof Idle && tracker.resourceVersion !== "") continue;
      failures += 1;
      // Denied for good after it was allowed: the namespace was deleted (its RoleBinding with it) or left
      // the stack. Its watch ends; the others go on (a restart after the bootstrap ran drops it).
      if (failures > 30 && /: 40[13]\b/.test(/** @type {Error} */ (error).message)) throw new Denied(`${kind.kind} in ${namespace}: ${/** @type {Error} */ (error).message}`);
      if (failures > 30) throw new Fatal(`${kind.kind} in ${namespace}: ${failures} failures in a row, last: ${/** @type {Error} */ (error).message}`);
      await sleep(Math.min(5000, 100 * 2 ** failures));
    }
  }
}

/** @returns {Config} */
function readConfig() {
  const raw = JSON.parse(process.env.WATCHER_CONFIG ?? "{}");
  const stacks = Array.isArray(raw.stacks) ? raw.stacks : [];
  if (stacks.length === 0) throw new Fatal("WATCHER_CONFIG names no stacks");
  // A Stack of no namespaces would need cluster-wide rights the watcher does not have.
  const unserved = stacks.find((/** @type {any} */ s) => !Array.isArray(s.namespaces) || s.namespaces.length === 0);
  if (unserved !== undefined) throw new Fatal(`WATCHER_CONFIG: stack ${unserved.namespace}/${unserved.name} lists no namespaces`);
  const debounceMs = Number(raw.debounceMs ?? 250);
  return { debounceMs, maxWaitMs: Number(raw.maxWaitMs ?? 4 * debounceMs), stacks: stacks.map((/** @type {any} */ s) => ({ namespace: s.namespace, name: s.name, namespaces: s.namespaces })) };
}

async function main() {
  const fail = (/** @type {Error} */ error) => {
    console.error(`${new Date().toISOString()} fatal: ${error.message}`);
    process.exit(1);
  };
  let config;
  try {
    config = readConfig();
  } catch (error) {
    return fail(/** @type {Error} */ (error));
  }
  const conn = connection();
  const namespaces = servedNamespaces(config);
  const watches = namespaces.flatMap((namespace) => KINDS.map((kind) => ({ kind, namespace })));
  const debouncer = new Debouncer(config, (stack, changes) => trigger(conn, stack, changes).catch(fail));
  let ready = 0;
  const onReady = () => {
    ready += 1;
    // Changes made while no watcher ran cannot be known: one trigger at start catches them up.
    if (ready === watches.length) {
      log(`ready: watching ${KINDS.map((k) => k.kind).join(", ")} in ${namespaces.join(", ")} for ${config.stacks.map((s) => `${s.namespace}/${s.name}`).join(", ")}`);
      for (const stack of config.stacks) void trigger(conn, stack, []).catch(fail);
    }
  };
  let deniedAtStart = 0;
  /**
   * One watch for ever. Denied (a namespace deleted with its RoleBinding, or one whose RoleBinding the
   * bootstrap has not made yet): it counts as ready once, and is tried again every 30 s; denied in every
   * namespace at start, the watcher's RBAC is missing, and it exits.
   * @param {{ kind: Kind, namespace: string }} watch @param {boolean} counted whether it counted as ready already
   * @returns {Promise<void>}
   */
  const watchOne = async ({ kind, namespace }, counted = false) => {
    let ready = counted;
    const once = () => {
      if (!ready) onReady();
      ready = true;
    };
    try {
      await watchKind(conn, kind, namespace, (change) => debouncer.add(change), once);
    } catch (error) {
      if (!(error instanceof Denied)) throw error;
      if (!ready && ++deniedAtStart === watches.length) throw new Fatal(`denied in every namespace, last: ${error.message}`);
      log(`not watching ${kind.kind} in ${namespace} for now (trying again in 30 s): ${error.message}`);
      once();
      await sleep(30_000);
      return watchOne({ kind, namespace }, true);
    }
  };
  await Promise.all(watches.map((watch) => watchOne(watch))).catch(fail);
}

module.exports = { Tracker, Debouncer, stackFor, readConfig, collection, KINDS, ANNOTATION, LIST_ACCEPT, WATCH_ACCEPT };

if (require.main === module) main();
