// A Pulumi dynamic provider that writes each custom resource's `status` subresource: one resource for the
// whole stack, whose input is every object's status, so a run writes only the statuses that changed.
//
// Dynamic providers are serialized with the program: the methods `require` what they use inside, and the
// module-level functions they call are plain functions that the serializer captures.
import * as pulumi from "@pulumi/pulumi";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import type { StatusEntry } from "../builders/status";

/** The entries by `<Kind>/<namespace>/<name>`. */
export type StatusEntries = Record<string, StatusEntry>;

export interface StatusReportArgs {
  entries: pulumi.Input<StatusEntries>;
}

interface ProviderInputs { entries: StatusEntries }
interface ProviderOutputs extends ProviderInputs {
  /** Objects that no longer existed when their status was due, by key. */
  missing: string[];
}

/** The two calls the writer makes; the API server's CustomObjectsApi, or a test double around it. */
export type StatusApi = Pick<CustomObjectsApi, "getNamespacedCustomObject" | "replaceNamespacedCustomObjectStatus">;

const httpCode = (error: unknown) => (error as { code?: number }).code;

/**
 * Writes one status with a read-modify-write of the status subresource, retrying on a conflict. The
 * condition's `lastTransitionTime` is kept while its status does not change. Returns "missing" when the
 * object is gone (or was replaced by another of the same name), which is not an error.
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
    const body = {
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: { name, namespace, resourceVersion: current.metadata.resourceVersion },
      status: { ...entry.status, conditions },
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

/** Writes every entry that differs from `previous`; returns the keys of objects that were gone. */
export async function writeStatuses(api: StatusApi, entries: StatusEntries, previous: StatusEntries = {}): Promise<string[]> {
  const now = new Date().toISOString();
  const missing: string[] = [];
  const failures: string[] = [];
  for (const [key, entry] of Object.entries(entries)) {
    if (previous[key] !== undefined && JSON.stringify(previous[key]) === JSON.stringify(entry)) continue;
    try {
      if ((await writeStatus(api, entry, now)) === "missing") missing.push(key);
    } catch (error) {
      failures.push(`${key}: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) throw new Error(`could not write the status of ${failures.length} object(s):\n${failures.join("\n")}`);
  return missing;
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
    const changes = JSON.stringify(olds.entries) !== JSON.stringify(news.entries);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: ProviderInputs) {
    const missing = await writeStatuses(defaultApi(), inputs.entries);
    return { id: "status", outs: { entries: inputs.entries, missing } satisfies ProviderOutputs };
  },

  async update(_id: string, olds: ProviderOutputs, news: ProviderInputs) {
    const missing = await writeStatuses(defaultApi(), news.entries, olds.entries);
    return { outs: { entries: news.entries, missing } satisfies ProviderOutputs };
  },

  // Statuses stay on objects the stack stops managing: they still say what was last done.
  async delete() {},
};

/** Every managed object's status, written to its `status` subresource. */
export class StatusReport extends pulumi.dynamic.Resource {
  public readonly entries!: pulumi.Output<StatusEntries>;
  public readonly missing!: pulumi.Output<string[]>;

  constructor(name: string, args: StatusReportArgs, opts?: pulumi.CustomResourceOptions) {
    super(statusProvider, name, { entries: args.entries, missing: undefined }, opts, "crdstack", "StatusReport");
  }
}
