// Rules between fields, each written once as a small declarative value and read two ways: as a zod check,
// whose messages validate prints (quoting the bad value where it is not secret), and as a CEL rule in the
// generated CRD's `x-kubernetes-validations`, so that the API server refuses at admission what validate
// would refuse later.
// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-rules
//
// A CEL rule's message is fixed text: the API server shows it with the field's type (`Invalid value:
// "object"`), never its value, so no secret reaches an admission error through a rule.
import { z } from "zod";

type Fields = Record<string, unknown>;

/** How an object's fields read: in a TrackingServer, `""` in a string field means unset (see `parseObject`). */
export interface Reading {
  unsetWhenEmpty: ReadonlySet<string>;
}

/** Every value as it is. */
export const PLAIN: Reading = { unsetWhenEmpty: new Set() };

/** A value a condition looks at: a field of the object, or a value chosen from several fields. */
export interface Term {
  get(value: unknown): unknown;
  /** The value in CEL, `on` being the object. */
  cel(on: string): string;
  /** Whether the value is there, in CEL; `get` returns undefined when it is not. */
  celIsSet(on: string, reading: Reading): string;
  /** The field, when the term is one. */
  field?: string;
}

function field(name: string): Term {
  return {
    field: name,
    get: (value) => (value as Fields)[name],
    cel: (on) => `${on}.${name}`,
    celIsSet: (on, reading) => (reading.unsetWhenEmpty.has(name) ? `(has(${on}.${name}) && ${on}.${name} != "")` : `has(${on}.${name})`),
  };
}

/** The entry `key` of the map in field `map`. */
export function entry(map: string, key: string): Term {
  return {
    get: (value) => ((value as Fields)[map] as Fields | undefined)?.[key],
    cel: (on) => `${on}.${map}[${literal(key)}]`,
    celIsSet: (on) => `(has(${on}.${map}) && ${literal(key)} in ${on}.${map})`,
  };
}

/** The value itself, for a rule of one field. */
export const itself: Term = { get: (value) => value, cel: (on) => on, celIsSet: () => "true" };

const termOf = (term: string | Term): Term => (typeof term === "string" ? field(term) : term);

/** The first of `fields` that is set, and is a string where `string` says so. */
export function firstOf(...fields: { name: string; string?: boolean }[]): Term {
  const isSet = (name: string, string: boolean | undefined, on: string) => `has(${on}.${name})${string ? ` && type(${on}.${name}) == string` : ""}`;
  return {
    get: (value) => {
      for (const { name, string } of fields) {
        const found = (value as Fields)[name];
        if (found !== undefined && (!string || typeof found === "string")) return found;
      }
      return undefined;
    },
    cel: (on) => fields.slice(0, -1).reduceRight((rest, { name, string }) => `(${isSet(name, string, on)} ? ${on}.${name} : ${rest})`, `${on}.${fields[fields.length - 1].name}`),
    celIsSet: (on) => fields.map(({ name, string }) => `(${isSet(name, string, on)})`).join(" || "),
  };
}

/** A condition on an object: a JS predicate for zod, and the same in CEL for the CRD. */
export interface Condition {
  test(value: unknown, reading: Reading): boolean;
  cel(on: string, reading: Reading): string;
}

/** A JS regular expression as an RE2 one for CEL's `matches`: the patterns here are written in the syntax both share. */
function re2(pattern: RegExp): string {
  if (pattern.flags !== "" && pattern.flags !== "i") throw new Error(`${pattern}: only the i flag has an RE2 form`);
  return `${pattern.flags === "i" ? "(?i)" : ""}${pattern.source}`;
}

/** A CEL literal: JSON's string escapes are CEL's. */
const literal = (value: string | number | boolean) => JSON.stringify(value);

export function isSet(term: string | Term): Condition {
  const t = termOf(term);
  return {
    test: (value, reading) => {
      const found = t.get(value);
      return found !== undefined && !(t.field !== undefined && reading.unsetWhenEmpty.has(t.field) && found === "");
    },
    cel: (on, reading) => t.celIsSet(on, reading),
  };
}

/** A condition on a term's value, false when the term is not set. */
function valued(term: string | Term, test: (found: any) => boolean, cel: (value: string) => string): Condition {
  const t = termOf(term);
  const set = isSet(t);
  return {
    test: (value, reading) => set.test(value, reading) && test(t.get(value)),
    cel: (on, reading) => {
      const guard = set.cel(on, reading);
      return guard === "true" ? cel(t.cel(on)) : `(${guard} && ${cel(t.cel(on))})`;
    },
  };
}

/** A string that `pattern` matches. */
export const matches = (term: string | Term, pattern: RegExp) => valued(term, (found) => typeof found === "string" && pattern.test(found), (value) => `${value}.matches(${literal(re2(pattern))})`);
/** A string that ends with `suffix` (costs CEL only the suffix's length, where `matches` costs the string's). */
export const endsWith = (term: string | Term, suffix: string) => valued(term, (found) => typeof found === "string" && found.endsWith(suffix), (value) => `${value}.endsWith(${literal(suffix)})`);
/** A number above `min`. */
export const above = (term: string | Term, min: number) => valued(term, (found) => typeof found === "number" && found > min, (value) => `${value} > ${min}`);
/** A value equal to `expected`. */
export const equals = (term: string | Term, expected: string | number | boolean) => valued(term, (found) => found === expected, (value) => `${value} == ${literal(expected)}`);
/**
 * A value whose text (a whole number's digits) is one of `texts`. In CEL, the value is looked up as it is,
 * among the texts and the whole numbers they write: `in` costs the list's length, where `string()` of an
 * int-or-string costs the 3 MiB the estimate gives its text.
 */
export function textIn(term: string | Term, texts: readonly string[]): Condition {
  const numbers = texts.filter((text) => String(Number.parseInt(text, 10)) === text);
  const lists = [`[${texts.map(literal).join(", ")}]`, ...(numbers.length === 0 ? [] : [`[${numbers.join(", ")}]`])];
  return valued(term, (found) => texts.includes(String(found)), (value) => `(${lists.map((list) => `${value} in ${list}`).join(" || ")})`);
}

export function not(condition: Condition): Condition {
  return { test: (value, reading) => !condition.test(value, reading), cel: (on, reading) => `!${condition.cel(on, reading)}` };
}

export function all(...conditions: Condition[]): Condition {
  return {
    test: (value, reading) => conditions.every((c) => c.test(value, reading)),
    cel: (on, reading) => `(${conditions.map((c) => c.cel(on, reading)).join(" && ")})`,
  };
}

export function any(...conditions: Condition[]): Condition {
  return {
    test: (value, reading) => conditions.some((c) => c.test(value, reading)),
    cel: (on, reading) => `(${conditions.map((c) => c.cel(on, reading)).join(" || ")})`,
  };
}

/** Exactly `count` of `terms` are set. */
export function countSet(terms: readonly string[], count: number): Condition {
  const set = terms.map((term) => isSet(term));
  return {
    test: (value, reading) => set.filter((c) => c.test(value, reading)).length === count,
    cel: (on, reading) => `(${set.map((c) => `(${c.cel(on, reading)} ? 1 : 0)`).join(" + ")}) == ${count}`,
  };
}

/** Why the API server refuses: what kubectl shows before the message. */
type Reason = "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden";

/** A rule of one object: what must hold, the field it is about, and what validate and the API server say otherwise. */
export interface Rule {
  holds: Condition;
  /** The field the problem is reported on, or its path (zod path, CEL fieldPath); none: the object itself. */
  field?: string | readonly string[];
  /** The message of both: fixed text, never a value. */
  message: string;
  /** validate's message where it quotes the value (never a secret one). */
  problem?: (value: any) => string;
  reason?: Reason;
}

/** `field`, when set, needs `needed` beside it. */
export function requires(fieldName: string, needed: string, message: string): Rule {
  return { holds: any(not(isSet(fieldName)), isSet(needed)), field: needed, message, reason: "FieldValueRequired" };
}

/** `a` and `b` are set together or not at all; the problem is on the one missing. */
export function bothOrNeither(a: string, b: string): Rule[] {
  const message = `Only one of \`${a}\` or \`${b}\` is set: set both or neither`;
  return [requires(a, b, message), requires(b, a, message)];
}

/** `fieldName` and `other` are not both set; the problem is on `fieldName`. */
export function excludes(fieldName: string, other: string, message: string): Rule {
  return { holds: not(all(isSet(fieldName), isSet(other))), field: fieldName, message, reason: "FieldValueForbidden" };
}

/** A rule of the CRD (`x-kubernetes-validations`). */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: Reason;
}

const VALIDATIONS = "x-kubernetes-validations";

const pathOf = (fieldName: string | readonly string[] | undefined): string[] => (fieldName === undefined ? [] : typeof fieldName === "string" ? [fieldName] : [...fieldName]);

/** A CEL fieldPath: `.name`, or `['key']` for a map key that is no identifier. */
const fieldPathOf = (path: readonly string[]) => path.map((name) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `['${name}']`)).join("");

function celRule(rule: string, message: string, fieldName?: string | readonly string[], reason?: Reason): CelRule {
  const path = pathOf(fieldName);
  return { rule, message, ...(path.length === 0 ? {} : { fieldPath: fieldPathOf(path) }), ...(reason === undefined ? {} : { reason }) };
}

/** Adds to `schema`'s meta, CEL rules after those it has: the generated CRD takes them from there. */
function withMeta<S extends z.ZodType>(schema: S, meta: { rules?: CelRule[]; [key: string]: unknown }): S {
  const { rules = [], ...rest } = meta;
  const earlier = (z.globalRegistry.get(schema)?.[VALIDATIONS] ?? []) as CelRule[];
  return schema.meta({ ...rest, ...(rules.length === 0 && earlier.length === 0 ? {} : { [VALIDATIONS]: [...earlier, ...rules] }) }) as S;
}

const celOf = (rule: Rule, reading: Reading) => celRule(rule.holds.cel("self", reading), rule.message, rule.field, rule.reason);

/** `schema` checked by `rules`: by zod in order, and by the API server through the CRD. */
export function withRules<S extends z.ZodType>(schema: S, rules: readonly Rule[], reading: Reading = PLAIN): S {
  const checked = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.holds.test(value, reading)) ctx.addIssue({ code: "custom", path: pathOf(rule.field), message: rule.problem?.(value) ?? rule.message });
    }
  });
  return withMeta(checked, { rules: rules.map((rule) => celOf(rule, reading)) });
}

/**
 * `schema` with `rules` in the CRD only: for rules that zod checks of every entry of a map, and CEL of
 * the entries it can name (iterating costs CEL more than its budget allows, see `ResourceRequirements`).
 */
export function withCelRules<S extends z.ZodType>(schema: S, rules: readonly Rule[]): S {
  return withMeta(schema, { rules: rules.map((rule) => celOf(rule, PLAIN)) });
}

/**
 * A map of at most `max` entries whose keys are `keys` (`what` says what they are). The CRD has no place for
 * a key's pattern (OpenAPI 3.0 has no `propertyNames`), so the pattern becomes a CEL rule over every key,
 * which CEL's cost estimate allows for a map of at most `maxProperties` entries.
 */
export function recordOf<V extends z.ZodType>(keys: z.ZodString, value: V, max: number, what: string) {
  const map = z.record(keys, value).refine((entries) => Object.keys(entries).length <= max, {
    error: (issue) => `has ${Object.keys(issue.input as object).length} entries: at most ${max}`,
  });
  const { pattern } = z.toJSONSchema(keys, { target: "openapi-3.0", io: "input", unrepresentable: "any" }) as { pattern?: string };
  const rules = pattern === undefined ? [] : [celRule(`self.all(key, key.matches(${literal(pattern)}))`, `every key must be ${what}`)];
  return withMeta(map, { maxProperties: max, rules });
}

/** A rule of a list: a zod check of its items, and for the CRD a list-map key or a CEL rule. */
export interface ListRule {
  check(items: readonly unknown[], ctx: z.RefinementCtx): void;
  /** The fields that make an item's key, when the rule is that they differ and each item has them. */
  mapKeys?: readonly string[];
  cel: CelRule;
}

/** A problem with an item: its path under the item and the message. */
export interface ItemProblem {
  path: (string | number)[];
  message: string;
}

/**
 * No two items have equal `keys` (items without every key set are left out). The problem is reported on
 * each later item, with the first item it repeats, unless `otherRule` says another rule reports that pair.
 */
export function uniqueBy(keys: readonly (string | Term)[], options: { message: string; problem: (item: any, first: number) => ItemProblem; otherRule?: (item: any, first: any) => boolean }): ListRule {
  const terms = keys.map(termOf);
  const set = all(...terms.map((term) => isSet(term)));
  const same = (a: unknown, b: unknown) => terms.every((term) => term.get(a) === term.get(b));
  // Keys compare as one-item lists: CEL's cost estimate of comparing two values is the length of the
  // longer one could be, 3 MiB for a string without maxLength (an enum, an int-or-string); of two lists, it
  // is their length.
  const celSame = terms.map((term) => `[${term.cel("a")}] == [${term.cel("b")}]`).join(" && ");
  const plain = terms.every((term) => term.field !== undefined);
  return {
    check: (items, ctx) => {
      items.forEach((item, i) => {
        if (!set.test(item, PLAIN)) return;
        const first = items.findIndex((other, j) => j < i && set.test(other, PLAIN) && same(item, other) && !options.otherRule?.(item, other));
        if (first < 0) return;
        const { path, message } = options.problem(item, first);
        ctx.addIssue({ code: "custom", path: [i, ...path], message });
      });
    },
    ...(plain ? { mapKeys: terms.map((term) => term.field!) } : {}),
    // No reason: the API server words a FieldValueDuplicate without the message.
    cel: celRule(`self.all(a, !${set.cel("a", PLAIN)} || self.exists_one(b, ${set.cel("b", PLAIN)} && ${celSame}))`, options.message),
  };
}

/** Every item has `fieldName` when there is more than one. */
export function requiredWhenSeveral(fieldName: string, options: { message: string; problem: string }): ListRule {
  return {
    check: (items, ctx) => {
      if (items.length < 2) return;
      items.forEach((item, i) => {
        if ((item as Fields)[fieldName] === undefined) ctx.addIssue({ code: "custom", path: [i, fieldName], message: options.problem });
      });
    },
    cel: celRule(`size(self) <= 1 || self.all(item, has(item.${fieldName}))`, options.message, undefined, "FieldValueRequired"),
  };
}

/** Whether an object schema's field is always there: required, or defaulted. */
function alwaysThere(item: z.ZodType, name: string): boolean {
  const shape = (item as unknown as { shape?: Record<string, z.ZodType> }).shape;
  const fieldSchema = shape?.[name];
  return fieldSchema !== undefined && (!(fieldSchema instanceof z.ZodOptional) || fieldSchema instanceof z.ZodDefault);
}

/**
 * A list checked by `rules`, of at most `max` items when given. The first rule that keys the items by
 * fields each item has (required or defaulted, as Kubernetes requires of list-map keys) makes the list an
 * `x-kubernetes-list-type: map`, whose duplicates the API server refuses without CEL, and whose items
 * server-side apply merges by key; the other rules become CEL rules. The bound keeps their cost (of rules
 * that compare every two items, the square of the length) within what the API server allows.
 */
export function listOf<T extends z.ZodType>(item: T, rules: readonly ListRule[], max?: number) {
  const keyed = rules.find((rule) => rule.mapKeys !== undefined && rule.mapKeys.every((name) => alwaysThere(item, name)));
  const bounded = max === undefined ? z.array(item) : z.array(item).max(max, { error: (issue) => `has ${(issue.input as unknown[]).length} items: at most ${max}` });
  const list = bounded.superRefine((items, ctx) => rules.forEach((rule) => rule.check(items, ctx)));
  return withMeta(list, {
    ...(keyed === undefined ? {} : { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [...keyed.mapKeys!] }),
    rules: rules.filter((rule) => rule !== keyed).map((rule) => rule.cel),
  });
}

/** A schema's field schema without its `.optional()` and `.default()`. */
const bare = (schema: z.ZodType): z.ZodType => (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault ? bare(schema.unwrap() as z.ZodType) : schema);

/** The string fields of an object's shape. */
export function stringFields(shape: Record<string, z.ZodType>): string[] {
  return Object.entries(shape).filter(([, schema]) => bare(schema) instanceof z.ZodString).map(([name]) => name);
}
