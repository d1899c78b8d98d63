// Field rules shared by both custom resources. Each check is written so that zod can still express it in
// the generated CRD (patterns, ranges, enums) where Kubernetes' OpenAPI subset allows it, and every
// message quotes the bad value: `spec.ports[1].nodePort: 20 is outside 30000-32767`.
import { isIPv4 } from "node:net";
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
const dnsSubdomain = `${dnsLabel}(\\.${dnsLabel})*`;
export const DNS_SUBDOMAIN = new RegExp(`^${dnsSubdomain}$`);

/**
 * A qualified name (`IsQualifiedName`: label keys, resource names, `appProtocol`): an optional DNS subdomain
 * prefix and `/`, then up to 63 letters, digits, '-', '_' and '.', a letter or digit at each end. The
 * prefix's limit of 253 characters is checked apart (`qualifiedName`).
 */
const qualifiedNamePattern = `(${dnsSubdomain}/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]`;
export const QUALIFIED_NAME = new RegExp(`^${qualifiedNamePattern}$`);
/** The prefix of a qualified name (`example.com` of `example.com/x`), empty when it has none. */
export const prefixOf = (name: string) => (name.includes("/") ? name.slice(0, name.indexOf("/")) : "");

/**
 * A Kubernetes quantity, as `resource.ParseQuantity` accepts it (`500m`, `1Gi`, `2`, `1e3`); exponents have
 * at most three digits, so that comparing two quantities exactly stays cheap.
 */
export const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]{1,3})?$/;

/** An image reference as the container runtime parses it: `[registry[:port]/]path[:tag][@digest]`. */
export const IMAGE_REFERENCE =
  /^([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]+)?\/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(\/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Environment variable names the API server accepts (Kubernetes 1.20 `IsEnvVarName`). */
export const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * An IANA service name, the form of a container port name (`IsValidPortName`): up to 15 lowercase letters,
 * digits and '-', at least one letter, '-' only between letters and digits.
 */
export const PORT_NAME = /^([0-9]+-)*[0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PORT_NAME_FORM = "a port name (up to 15 lowercase letters, digits and '-')";

/** Why a name of the port name's characters still is not one, for the message. */
function portNameRule(name: string): string {
  if (!/[a-z]/.test(name)) return "it needs a letter";
  return name.includes("--") ? "it has '--'" : "it starts or ends with '-'";
}

/**
 * A port name; `numberHint` adds, for a name of digits only, that a port number is written without quotes
 * (a `targetPort` of `"8080"` is a name to the API server).
 */
export function portName(numberHint = "") {
  return z.string().max(15, { abort: true, error: (issue) => `${quote(issue.input)} is not ${PORT_NAME_FORM}` }).regex(PORT_NAME, {
    abort: true,
    error: (issue) => {
      const name = String(issue.input);
      if (!/^[-a-z0-9]+$/.test(name)) return `${quote(name)} is not ${PORT_NAME_FORM}`;
      const hint = /^[0-9]+$/.test(name) ? numberHint : "";
      return `${quote(name)} is not ${PORT_NAME_FORM}: ${portNameRule(name)}${hint}`;
    },
  });
}

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

/** Whether `text` is a qualified name, its prefix's length included. */
export const isQualifiedName = (text: string) => QUALIFIED_NAME.test(text) && prefixOf(text).length <= 253;

/** A qualified name (`QUALIFIED_NAME`), described in messages as `expected`. */
export function qualifiedName(expected: string) {
  return matching(QUALIFIED_NAME, expected).refine((name) => prefixOf(name).length <= 253, {
    error: (issue) => `${quote(issue.input)} has a prefix longer than 253 characters`,
  });
}

/**
 * A quantity as Kubernetes stores it: int-or-string, so a number must be whole (the CRD's
 * `x-kubernetes-int-or-string` refuses `0.5`; `"0.5"` or `"500m"` say the same). Numbers are written back as given.
 */
export const quantity = z.union([z.number().int().nonnegative(), quantityString], {
  error: (issue) => {
    const fraction = typeof issue.input === "number" && issue.input > 0 && !Number.isInteger(issue.input);
    if (fraction) return `${quote(issue.input)} is not a whole number: write a fraction as a string, like "0.5" or "500m"`;
    return `${quote(issue.input)} is not a quantity like 500m, 10Gi or 2`;
  },
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

/**
 * An object's labels as the API server takes them (`ValidateLabels`): qualified names as keys, values of up
 * to 63 letters, digits, '-', '_' and '.' with a letter or digit at each end, or empty.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 */
export const labels = z.record(
  qualifiedName("a label key ([prefix/]name of letters, digits, '-', '_' and '.')"),
  matching(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, "a label value (up to 63 letters, digits, '-', '_' and '.', a letter or digit at each end)"),
);

/** An object's annotations (`ValidateAnnotations`): qualified names as keys, any case, and 256 KiB in all. */
export const annotations = z
  .record(z.string().refine((key) => isQualifiedName(key.toLowerCase()), { error: (issue) => `${quote(issue.input)} is not an annotation key ([prefix/]name of letters, digits, '-', '_' and '.')` }), z.string())
  .refine((map) => Object.entries(map).reduce((size, [key, value]) => size + key.length + value.length, 0) <= 256 * 1024, {
    error: () => "are longer than 256 KiB in all",
  });

export const protocol = z.enum(["TCP", "UDP", "SCTP"], {
  error: (issue) => `${quote(issue.input)} is not one of TCP, UDP, SCTP`,
});


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

/**
 * A public URL an Ingress serves: an `httpUrl` whose host an Ingress rule takes (a DNS name of at most 253
 * characters, not an IP address) and whose path as served (without trailing slashes, see `servedPath`) has
 * no `//` or `%2F`, which an Ingress path cannot have.
 */
export const ingressUrl = httpUrl.superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return;
  }
  // httpUrl's own problems have their message already.
  if (!DNS_SUBDOMAIN.test(url.hostname) || url.username !== "" || url.password !== "") return;
  const issue = (problem: string) => ctx.addIssue({ code: "custom", message: `${quote(text)} ${problem}` });
  if (isIPv4(url.hostname)) issue(`has the IP address ${url.hostname} as host: an Ingress needs a DNS name`);
  else if (url.hostname.length > 253) issue(`has a host of ${url.hostname.length} characters: an Ingress takes at most 253`);
  const path = url.pathname.replace(/\/+$/, "");
  for (const sequence of ["//", "%2F", "%2f"]) {
    if (path.includes(sequence)) issue(`has '${sequence}' in its path, which an Ingress path cannot have`);
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
