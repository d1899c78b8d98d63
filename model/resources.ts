// Compute resources of a container (`resources.requests`, `resources.limits`): the resource names and
// quantities the API server takes, compared exactly as it compares them, with the requests-within-limits
// rules also in the CRD (model/rules.ts). https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
import { matching, prefixOf, quantity, Quantity, quote, strictObject, DNS_SUBDOMAIN, QUANTITY } from "./common";
import { any, Condition, entry, isSet, not, PLAIN, recordOf, Rule, Term, withCelRules } from "./rules";

const SUFFIXES: Record<string, number> = {
  "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a valid quantity, precise enough to compare requests with limits. */
export function quantityValue(value: Quantity): number {
  if (typeof value === "number") return value;
  const match = /^[+]?([0-9.]+)(.*)$/.exec(value);
  if (!match) return Number.NaN;
  const [, number, suffix] = match;
  if (/^[eE][+-]?[0-9]/.test(suffix)) return Number(number + suffix);
  return Number(number) * (SUFFIXES[suffix] ?? Number.NaN);
}

/** A valid quantity as the exact fraction numerator / denominator: the API server compares quantities exactly. */
interface Fraction { numerator: bigint; denominator: bigint }
const DECIMAL_EXPONENTS: Record<string, number> = { m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_EXPONENTS: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

function exactly(value: Quantity): Fraction {
  const [, whole = "", fraction = "", suffix = ""] = /^\+?([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(String(value)) ?? [];
  let numerator = BigInt(`${whole}${fraction}` || "0");
  let denominator = 10n ** BigInt(fraction.length);
  const exponent = /^[eE][+-]?[0-9]/.test(suffix) ? Number(suffix.slice(1)) : DECIMAL_EXPONENTS[suffix];
  if (exponent === undefined) numerator *= 2n ** BigInt(BINARY_EXPONENTS[suffix]);
  else if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
  else denominator *= 10n ** BigInt(-exponent);
  return { numerator, denominator };
}

/** Whether a value is a quantity at all: the rules between quantities leave the others to their own message. */
const isQuantity = (value: unknown): value is Quantity =>
  typeof value === "number" ? Number.isSafeInteger(value) && value >= 0 : typeof value === "string" && QUANTITY.test(value);

/** Negative, zero or positive as `a` is below, equal to or above `b`. */
function compareQuantities(a: Quantity, b: Quantity): number {
  const x = exactly(a);
  const y = exactly(b);
  const difference = x.numerator * y.denominator - y.numerator * x.denominator;
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/** Whether `value` is a whole multiple of `unit` (a whole number: `unit` 1). */
function isMultiple(value: Quantity, unit: Quantity): boolean {
  const x = exactly(value);
  const y = exactly(unit);
  return y.numerator > 0n && (x.numerator * y.denominator) % (y.numerator * x.denominator) === 0n;
}

/** Kubernetes' own resources (no domain, or a kubernetes.io one); the others are extended resources. */
const isNative = (name: string) => !name.includes("/") || name.includes("kubernetes.io/");
const pageSizeOf = (name: string) => (name.startsWith("hugepages-") ? name.slice("hugepages-".length) : undefined);
/** Whether a request may stay below its limit: native resources but hugepages. */
const isOvercommittable = (name: string) => isNative(name) && pageSizeOf(name) === undefined;

const RESOURCE_NAME = new RegExp(`^(cpu|memory|ephemeral-storage|hugepages-[0-9A-Za-z.+]+|${DNS_SUBDOMAIN.source.slice(1, -1)}/([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])$`);
const RESOURCE_NAME_FORM = "a resource name (cpu, memory, ephemeral-storage, hugepages-<size> or domain/name)";
/** A container's resource name, as `validateContainerResourceName` takes it. */
const resourceName = matching(RESOURCE_NAME, RESOURCE_NAME_FORM).superRefine((name, ctx) => {
  const pageSize = pageSizeOf(name);
  const issue = (why: string) => ctx.addIssue({ code: "custom", message: `${quote(name)} is not a resource name: ${why}` });
  if (pageSize !== undefined && !(isQuantity(pageSize) && compareQuantities(pageSize, "0") > 0 && isMultiple(pageSize, 1))) {
    issue(`${pageSize} is not a page size like 2Mi or 1Gi`);
  } else if (!isNative(name) && name.startsWith("requests.")) {
    issue("an extended resource's domain cannot start with \"requests.\"");
  } else if (prefixOf(name).length > (isNative(name) ? 253 : 244)) {
    issue(`its domain is longer than ${isNative(name) ? 253 : 244} characters`);
  }
});
/**
 * At most this many resources in a list: the CRD checks every name against `RESOURCE_NAME`, which CEL's
 * cost estimate allows for a bounded map only.
 */
const MAX_RESOURCES = 64;
const resourceList = recordOf(resourceName, quantity, MAX_RESOURCES, RESOURCE_NAME_FORM);

/** `a` is at most `b` where both are quantities; anything else is left to their own checks. */
function quantityAtMost(a: Term, b: Term): Condition {
  return {
    test: (value) => {
      const [x, y] = [a.get(value), b.get(value)];
      return !isQuantity(x) || !isQuantity(y) || compareQuantities(x, y) <= 0;
    },
    cel: (on) => {
      const [x, y] = [`string(${a.cel(on)})`, `string(${b.cel(on)})`];
      return `(!isQuantity(${x}) || !isQuantity(${y}) || quantity(${x}).compareTo(quantity(${y})) <= 0)`;
    },
  };
}

/** A request of `name` is at most its limit (of a resource whose request may stay below it, see `isOvercommittable`). */
function requestWithinLimit(name: string): Rule {
  const [request, limit] = [entry("requests", name), entry("limits", name)];
  return {
    holds: any(not(isSet(request)), not(isSet(limit)), quantityAtMost(request, limit)),
    field: ["requests", name],
    message: "is above its limit",
    problem: (resources: object) => `${quote(request.get(resources))} is above the limit ${quote(limit.get(resources))}`,
  };
}

/**
 * The resources whose requests the CRD compares with their limits: the native ones a request may stay
 * below, by name. A CEL rule over every entry would parse two int-or-string values per entry, each of which
 * CEL's cost estimate takes for a 3 MiB string: over the API server's budget beyond 7 entries.
 */
const COMPARED_IN_CRD = ["cpu", "memory", "ephemeral-storage"];

/** A problem of one quantity of resource `name`, or undefined: extended resources count whole units, hugepages whole pages. */
function quantityProblem(name: string, value: Quantity): string | undefined {
  const pageSize = pageSizeOf(name);
  if (!isNative(name) && !isMultiple(value, 1)) return `is not a whole number: ${name} is counted in whole units`;
  if (pageSize !== undefined && isQuantity(pageSize) && !isMultiple(value, pageSize)) return `is not a whole number of ${pageSize} pages`;
  return undefined;
}

/** Compute resources of the container. https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/ */
const ResourceRequirementsFields = strictObject({
  limits: resourceList.optional(),
  requests: resourceList.optional(),
}).superRefine((resources, ctx) => {
  // The rules between quantities (the API server's `validateResourceRequirements`) apply to valid names and quantities.
  const entries = (["requests", "limits"] as const).flatMap((list) =>
    Object.entries(resources[list] ?? {}).filter(([name, value]) => RESOURCE_NAME.test(name) && isQuantity(value)).map(([name, value]) => ({ list, name, value })));
  const limits = new Map(entries.filter((entry) => entry.list === "limits").map((entry) => [entry.name, entry.value]));
  const issue = (path: string[], message: string) => ctx.addIssue({ code: "custom", path, message });
  for (const { list, name, value } of entries) {
    const problem = quantityProblem(name, value);
    if (problem !== undefined) issue([list, name], `${quote(value)} ${problem}`);
    if (list !== "requests") continue;
    const limit = limits.get(name);
    if (limit === undefined) {
      if (!isOvercommittable(name)) issue([list, name], `${quote(value)} has no limit beside it: a request of ${name} must equal its limit`);
    } else if (!isOvercommittable(name) && compareQuantities(value, limit) !== 0) {
      issue([list, name], `${quote(value)} is not the limit ${quote(limit)}: a request of ${name} must equal its limit`);
    } else {
      const rule = requestWithinLimit(name);
      if (!rule.holds.test(resources, PLAIN)) issue([list, name], rule.problem!(resources));
    }
  }
  const hugePages = entries.find((entry) => pageSizeOf(entry.name) !== undefined);
  if (hugePages !== undefined && !entries.some((entry) => entry.name === "cpu" || entry.name === "memory")) {
    issue([hugePages.list, hugePages.name], "needs a cpu or memory request or limit beside it");
  }
});
export const ResourceRequirements = withCelRules(ResourceRequirementsFields, COMPARED_IN_CRD.map(requestWithinLimit));
