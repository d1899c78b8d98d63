// Field rules shared by both custom resources. Each check is written so that zod can still express it in
// the generated CRD (patterns, ranges, enums) where Kubernetes' OpenAPI subset allows it, and every
// message quotes the bad value: `spec.ports[1].nodePort: 20 is outside 30000-32767`.
import { z } from "zod";

/** Quotes a value the way messages show it: strings in double quotes, everything else as JSON. */
export function quote(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// RE2-compatible patterns: the API server evaluates CRD patterns with Go's regexp package.
const dnsLabel = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
export const DNS_LABEL = new RegExp(`^${dnsLabel}$`);
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = new RegExp(`^${dnsLabel}(\\.${dnsLabel})*$`);

/** A Kubernetes quantity, as `resource.ParseQuantity` accepts it (`500m`, `1Gi`, `2`, `1e3`). */
export const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?$/;

/** An image reference as the container runtime parses it: `[registry[:port]/]path[:tag][@digest]`. */
export const IMAGE_REFERENCE =
  /^([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]+)?\/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(\/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Environment variable names the API server accepts (Kubernetes 1.20 `IsEnvVarName`). */
export const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** An IANA service name, the form of a port name (`IsValidPortName`). */
export const PORT_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/** The API server's default NodePort range (`--service-node-port-range`). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/**
 * A string field that must match `pattern`; the message says what was given and what is expected.
 * With `secret`, the message leaves the value out.
 */
export function matching(pattern: RegExp, expected: string, maxLength?: number, options: { secret?: boolean } = {}) {
  const given = (input: unknown) => (options.secret ? "the value" : quote(input));
  let schema = z.string();
  if (maxLength !== undefined) {
    schema = schema.max(maxLength, { abort: true, error: (issue) => `${given(issue.input)} is longer than ${maxLength} characters` });
  }
  return schema.regex(pattern, { abort: true, error: (issue) => `${given(issue.input)} is not ${expected}` });
}

export const dnsLabelName = matching(DNS_LABEL, "a DNS label (lowercase letters, digits and '-')", 63);
export const imageReference = matching(IMAGE_REFERENCE, "an image reference like registry/name:tag", 4096);
export const quantityString = matching(QUANTITY, "a quantity like 500m, 10Gi or 2");

/** A quantity as Kubernetes stores it: int-or-string. Numbers are written back as given. */
export const quantity = z.union([z.number().nonnegative(), quantityString], {
  error: (issue) => `${quote(issue.input)} is not a quantity like 500m, 10Gi or 2`,
});
export type Quantity = z.infer<typeof quantity>;

/** An int-or-string field such as a Service's `targetPort`. */
export const intOrString = z.union([z.number().int(), z.string()], {
  error: (issue) => `${quote(issue.input)} is neither a whole number nor a string`,
});

export function wholeNumber(min: number, max: number) {
  return z
    .number()
    .int({ error: (issue) => `${quote(issue.input)} is not a whole number` })
    .min(min, { error: (issue) => `${quote(issue.input)} is outside ${min}-${max}` })
    .max(max, { error: (issue) => `${quote(issue.input)} is outside ${min}-${max}` });
}

export const portNumber = wholeNumber(1, 65535);

export const protocol = z.enum(["TCP", "UDP", "SCTP"], {
  error: (issue) => `${quote(issue.input)} is not one of TCP, UDP, SCTP`,
});

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
  if (/^[eE]/.test(suffix)) return Number(number + suffix);
  return Number(number) * (SUFFIXES[suffix] ?? Number.NaN);
}

const RESOURCE_NAME = /^(cpu|memory|ephemeral-storage|hugepages-[0-9A-Za-z]+|[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[-A-Za-z0-9_.]+)$/;
const resourceList = z.record(
  matching(RESOURCE_NAME, "a resource name (cpu, memory, ephemeral-storage, hugepages-<size> or domain/name)"),
  quantity,
);

/** Compute resources of the container. https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/ */
export const ResourceRequirements = strictObject({
  limits: resourceList.optional(),
  requests: resourceList.optional(),
}).superRefine((resources, ctx) => {
  for (const [name, request] of Object.entries(resources.requests ?? {})) {
    const limit = resources.limits?.[name];
    if (limit !== undefined && quantityValue(request) > quantityValue(limit)) {
      ctx.addIssue({
        code: "custom",
        path: ["requests", name],
        message: `${quote(request)} is above the limit ${quote(limit)}`,
      });
    }
  }
});

/** A PEM block of one of `labels` (e.g. CERTIFICATE), checked for framing and base64 body. */
export function pem(labels: readonly string[], what: string) {
  const blocks = labels.map((label) => label.replace(/ /g, "\\s"));
  const pattern = new RegExp(
    `^\\s*-----BEGIN (${blocks.join("|")})-----\\s+[A-Za-z0-9+/=\\s]+-----END (${blocks.join("|")})-----\\s*$`,
  );
  return z
    .string()
    .refine((text) => pattern.test(text), { error: () => `is not a PEM-encoded ${what}` });
}

/** An http or https URL with a host; the message quotes what was given. */
/**
 * A URL's text for messages: whatever stands before its last `@` (a user name and password, in a URL
 * that parses or not) reads `(secret)`.
 */
const withoutUserInfo = (text: string) => (text.includes("@") ? `(secret)${text.slice(text.lastIndexOf("@"))}` : text);

/**
 * An http(s) URL with a DNS host name and no user name or password: a credential in a URL would be
 * shown wherever the URL is (the Ingress, the status, the pod's environment). Messages never quote one.
 */
export const httpUrl = z.string().superRefine((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "" || !DNS_SUBDOMAIN.test(url.hostname)) {
    ctx.addIssue({ code: "custom", message: `${quote(withoutUserInfo(text))} is not an http or https URL with a DNS host name` });
  } else if (url.username !== "" || url.password !== "") {
    ctx.addIssue({ code: "custom", message: `${quote(withoutUserInfo(text))} has a user name or password: keep credentials out of URLs` });
  }
});

/** `.strict()` with a message that names the unknown field and what is allowed. */
export function strictObject<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) => (issue.code === "unrecognized_keys" ? `is not a known field (known: ${allowed})` : undefined),
  });
}

const ARTICLE: Record<string, string> = { object: "an object", array: "an array", int: "a whole number", integer: "a whole number" };

/**
 * Messages for the checks that carry no message of their own (types, lengths, enums), used as the
 * parse-time error map so that every problem reads `<bad value> is not ...` or `is required`.
 */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const input = issue.input;
  switch (issue.code) {
    case "invalid_type":
      return input === undefined ? "is required" : `${quote(input)} is not ${ARTICLE[issue.expected] ?? `a ${issue.expected}`}`;
    case "too_small":
      return `${quote(input)} is ${issue.origin === "number" ? "below" : "shorter than"} ${issue.minimum}`;
    case "too_big":
      return `${quote(input)} is ${issue.origin === "number" ? "above" : "longer than"} ${issue.maximum}`;
    case "invalid_value":
      return `${quote(input)} is not one of ${issue.values.map((value) => String(value)).join(", ")}`;
    case "invalid_union":
      return `${quote(input)} matches none of the allowed forms`;
    case "invalid_key":
      return issue.issues[0]?.message;
    default:
      return undefined;
  }
}
