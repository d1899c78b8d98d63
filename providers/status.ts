// A Pulumi dynamic provider that writes each custom resource's `status` subresource: one resource for the
// whole stack, whose input is every object's status as the program sees it. Readiness comes from the
// cluster: the writer reads each object's Deployment when it writes, and `diff` reads it too, so a run
// that a Deployment's status change triggered rewrites the statuses that moved, and a run where nothing
// moved has no change (`pulumi up --expect-no-changes` holds).
//
// Writes go out in parallel (WRITE_CONCURRENCY at once). One object's failed write neither stops the
// others nor fails the run: it is recorded in the outputs (`failed`), the next run's diff sees it and
// writes it again. A failure that is not about one object (no write of the run succeeded, and each was
// refused for the writer's rights, 401/403, or never reached the API server) fails the run, which names
// every object: that is how a writer that cannot write at all shows.
//
// Dynamic providers are serialized with the program: the methods `require` what they use inside, and the
// module-level functions they call are plain functions that the serializer captures.
import * as pulumi from "@pulumi/pulumi";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { KEPT_CONDITIONS, LiveReadiness, StatusEntry, withReadiness } from "../builders/conditions";
import { defaultLiveApi, LiveApi, readReadiness } from "./readiness";

/** The entries by `<Kind>/<namespace>/<name>`. */
export type StatusEntries = Record<string, StatusEntry>;

export interface StatusReportArgs {
  entries: pulumi.Input<StatusEntries>;
}

interface ProviderInputs { entries: StatusEntries }
interface ProviderOutputs extends ProviderInputs {
  /** Objects that no longer existed when their status was due, by key. */
  missing: string[];
  /** The readiness last written, by key (JSON): what `diff` compares the cluster's with. */
  live?: Record<string, string>;
  /** Writes that failed, by key, with the error: the next run writes them again. */
  failed?: Record<string, string>;
}

/** How many statuses are written at once. */
export const WRITE_CONCURRENCY = 16;

/** The two calls the writer makes; the API server's CustomObjectsApi, or a test double around it. */
export type StatusApi = Pick<CustomObjectsApi, "getNamespacedCustomObject" | "replaceNamespacedCustomObjectStatus">;

const httpCode = (error: unknown) => (error as { code?: number }).code;

/**
 * Writes one status with a read-modify-write of the status subresource, retrying on a conflict. A
 * condition's `lastTransitionTime` is kept while its status does not change; a kept condition type
 * (`DriftCorrected`) the entry does not have stays as it was. Returns "missing" when the object is gone
 * (or was replaced by another of the same name), which is not an error.
 */
export async function writeStatus(api: StatusApi, entry: StatusEntry, now: string, attempts = 5): Promise<"written" | "missing"> {
  const { group, version, plural, namespace, name, uid } = entry.target;
  for (let attempt = 1; ; attempt++) {
    let current: any;
    try {
      current = await api.getNamespacedCustomObject({ group, version, namespace, plural, name });
    } catch (error) {
      if (httpCode(error) === 404) return "missing";
      throw error;
    }
    if (uid !== undefined && current.metadata.uid !== uid) return "missing";
    const previous: any[] = current.status?.conditions ?? [];
    const conditions = entry.status.conditions.map((condition) => {
      const old = previous.find((c) => c.type === condition.type);
      return { ...condition, lastTransitionTime: old !== undefined && old.status === condition.status ? old.lastTransitionTime : now };
    });
    const kept = previous.filter((old) => KEPT_CONDITIONS.includes(old.type) && !conditions.some((c) => c.type === old.type));
    const body = {
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: { name, namespace, resourceVersion: current.metadata.resourceVersion },
      status: { ...entry.status, conditions: [...conditions, ...kept] },
    };
    try {
      await api.replaceNamespacedCustomObjectStatus({ group, version, namespace, plural, name, body });
      return "written";
    } catch (error) {
      if (httpCode(error) === 404) return "missing";
      if (httpCode(error) === 409 && attempt < attempts) continue;
      throw error;
    }
  }
}

/** The API client from the kubeconfig (KUBECONFIG, ~/.kube/config) or the pod's service account. */
function defaultApi(): StatusApi {
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  return config.makeApiClient(k8s.CustomObjectsApi);
}

/** Runs `task` on every item, at most `limit` at once. */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The readiness of every entry that has one, read from the cluster in parallel, as JSON by key. */
export async function readLive(live: LiveApi, entries: StatusEntries, keys: readonly string[] = Object.keys(entries)): Promise<Record<string, LiveReadiness>> {
  const out: Record<string, LiveReadiness> = {};
  await eachLimited(keys.filter((key) => entries[key].live !== undefined), WRITE_CONCURRENCY, async (key) => {
    const { target, live: source } = entries[key];
    out[key] = await readReadiness(live, target.namespace, source!.deployment);
  });
  return out;
}

/** What a run of the writer did: objects that were gone, the readiness written, the writes that failed. */
export interface WriteResult { missing: string[]; live: Record<string, string>; failed: Record<string, string> }

/** What the writer knew after the last run: its entries, the readiness it wrote, its failed writes. */
export interface Previous { entries?: StatusEntries; missing?: string[]; live?: Record<string, string>; failed?: Record<string, string> }

/** A failure that no single object causes: the writer's rights, or an API server it cannot reach. */
const systematic = (error: unknown) => {
  const code = httpCode(error);
  return code === undefined || code === 401 || code === 403 || code >= 500;
};

/**
 * Writes every entry whose status (its readiness included) differs from what the last run wrote, or
 * whose last write failed, WRITE_CONCURRENCY at once. Throws only when no write succeeded and every
 * failure was systematic (see the top of this file).
 */
export async function writeStatuses(api: StatusApi, liveApi: LiveApi, entries: StatusEntries, previous: Previous = {}): Promise<WriteResult> {
  const now = new Date().toISOString();
  const readings = await readLive(liveApi, entries);
  const result: WriteResult = { missing: [], live: {}, failed: {} };
  const errors: unknown[] = [];
  let written = 0;
  const due = Object.keys(entries).filter((key) => {
    const reading = readings[key] === undefined ? undefined : JSON.stringify(readings[key]);
    if (reading !== undefined) result.live[key] = reading;
    const same = previous.entries?.[key] !== undefined && JSON.stringify(previous.entries[key]) === JSON.stringify(entries[key]) && previous.live?.[key] === reading;
    if (same && previous.missing?.includes(key)) result.missing.push(key);
    return !same || previous.failed?.[key] !== undefined;
  });
  await eachLimited(due, WRITE_CONCURRENCY, async (key) => {
    const entry = readings[key] === undefined ? entries[key] : withReadiness(entries[key], readings[key]);
    try {
      if ((await writeStatus(api, entry, now)) === "missing") result.missing.push(key);
      else written++;
    } catch (error) {
      errors.push(error);
      result.failed[key] = `${httpCode(error) ?? "no response"}: ${(error as Error).message ?? String(error)}`.slice(0, 300);
    }
  });
  result.missing.sort();
  const failures = Object.entries(result.failed);
  if (failures.length > 0 && written === 0 && errors.every(systematic)) {
    throw new Error(`could not write the status of any of ${failures.length} object(s):\n${failures.map(([key, why]) => `${key}: ${why}`).join("\n")}`);
  }
  return result;
}

/** Whether a run would write anything: changed entries, failed writes, or readiness that moved. */
export async function statusesChanged(liveApi: LiveApi, olds: ProviderOutputs, news: ProviderInputs): Promise<boolean> {
  // In a preview, entries that depend on objects this run creates can be unknown (a placeholder string).
  if (typeof news.entries !== "object" || news.entries === null) return true;
  if (JSON.stringify(olds.entries) !== JSON.stringify(news.entries)) return true;
  if (Object.keys(olds.failed ?? {}).length > 0) return true;
  const missing = new Set(olds.missing ?? []);
  const keys = Object.keys(news.entries).filter((key) => !missing.has(key) && typeof news.entries[key] === "object");
  const readings = await readLive(liveApi, news.entries, keys);
  return Object.entries(readings).some(([key, reading]) => olds.live?.[key] !== JSON.stringify(reading));
}

export const statusProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ProviderInputs, news: ProviderInputs) {
    // In a preview, entries that depend on objects this run creates are unknown: a placeholder string in
    // place of the whole map or of an entry. Only what is known can be checked.
    const known = typeof news.entries === "object" && news.entries !== null ? news.entries : {};
    const failures = Object.entries(known).filter(([, entry]) => typeof entry === "object").flatMap(([key, entry]) =>
      entry?.target?.name && entry?.target?.namespace && entry?.target?.plural && Array.isArray(entry?.status?.conditions)
        ? []
        : [{ property: "entries", reason: `${key}: an entry needs target.{group,version,plural,namespace,name} and status.conditions` }],
    );
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: ProviderOutputs, news: ProviderInputs) {
    const changes = await statusesChanged(defaultLiveApi(), olds, news);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: ProviderInputs) {
    const result = await writeStatuses(defaultApi(), defaultLiveApi(), inputs.entries);
    return { id: "status", outs: { entries: inputs.entries, ...result } satisfies ProviderOutputs };
  },

  async update(_id: string, olds: ProviderOutputs, news: ProviderInputs) {
    const result = await writeStatuses(defaultApi(), defaultLiveApi(), news.entries, olds);
    return { outs: { entries: news.entries, ...result } satisfies ProviderOutputs };
  },

  // Statuses stay on objects the stack stops managing: they still say what was last done.
  async delete() {},
};

/** Every managed object's status, written to its `status` subresource. */
export class StatusReport extends pulumi.dynamic.Resource {
  public readonly entries!: pulumi.Output<StatusEntries>;
  public readonly missing!: pulumi.Output<string[]>;
  public readonly failed!: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: StatusReportArgs, opts?: pulumi.CustomResourceOptions) {
    super(statusProvider, name, { entries: args.entries, missing: undefined, live: undefined, failed: undefined }, opts, "crdstack", "StatusReport");
  }
}
