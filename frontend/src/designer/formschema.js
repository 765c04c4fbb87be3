// A task form's JSON Schema (processes/README.md) as the field list the form editor edits, and back.
// Only what the list names is rewritten: a field of another kind (multiple choice, yes/no, username),
// a field's description and default, and a condition of another shape are kept as written.

const LONG_TEXT = 200; // web/pages/task_form.py: a longer string is drawn as a text area
const KEY = "^[A-Za-z_][A-Za-z0-9_]*$"; // a condition reads the field as a variable
const NUMBER = "^(-?\\d+(\\.\\d+)?)?$";
export const KINDS = ["text", "textarea", "number", "date", "choice", "department-member", "item-unit", "other"];
const KIND_TITLES = [
  "Text",
  "Long text",
  "Number",
  "Date",
  "Choice",
  "User of the unit",
  "Unit of the item",
  "Other (kept as written)",
];

// engine/store/text.py's "中文 English" split: the Chinese part, then the first word starting in ASCII.
const BILINGUAL = /^(.*?[^\x00-\x7f][^A-Za-z]*?)\s+([A-Za-z][\s\S]*)$/;
const split = (text = "") => {
  const match = BILINGUAL.exec(text);
  return match ? [match[1].trim(), match[2].trim()] : [text, ""];
};
const join = (zh, en) => [zh, en].map((part) => (part || "").trim()).filter(Boolean).join(" ");

/** What the form editor (json-editor) edits: titles in English, translated by the page (formzh.js). */
export const FIELD_LIST = {
  type: "object",
  title: "Form",
  options: { compact: true }, // the panel's heading names it
  required: ["title_zh", "title_en", "fields", "conditions"],
  properties: {
    title_zh: { type: "string", title: "Form title (Chinese)" },
    title_en: { type: "string", title: "Form title (English)" },
    fields: {
      type: "array",
      title: "Fields",
      format: "tabs-top",
      items: {
        type: "object",
        title: "Field",
        headerTemplate: "{{ i1 }}. {{ self.title_zh }}",
        required: ["key", "title_zh", "title_en", "kind", "required"],
        properties: {
          key: { type: "string", title: "Key", pattern: KEY, minLength: 1 },
          title_zh: { type: "string", title: "Title (Chinese)", minLength: 1 },
          title_en: { type: "string", title: "Title (English)" },
          kind: { type: "string", title: "Kind", enum: KINDS, default: "text", options: { enum_titles: KIND_TITLES } },
          required: { type: "boolean", title: "Required", format: "checkbox" },
          maxLength: {
            type: "string",
            title: "Max length (empty: 200 for text, 5000 for long text)",
            pattern: "^(\\d+)?$",
            options: { dependencies: { kind: ["text", "textarea"] } },
          },
          minimum: { type: "string", title: "Minimum", pattern: NUMBER, options: { dependencies: { kind: "number" } } },
          maximum: { type: "string", title: "Maximum", pattern: NUMBER, options: { dependencies: { kind: "number" } } },
          choices: {
            type: "array",
            title: "Choices",
            format: "table",
            options: { dependencies: { kind: "choice" } },
            items: {
              type: "object",
              title: "Option",
              required: ["value", "label_zh", "label_en"],
              properties: {
                value: { type: "string", title: "Value", minLength: 1 },
                label_zh: { type: "string", title: "Label (Chinese)" },
                label_en: { type: "string", title: "Label (English)" },
              },
            },
          },
        },
      },
    },
    conditions: {
      type: "array",
      title: "Conditional requirements",
      format: "table",
      items: {
        type: "object",
        title: "Condition",
        required: ["field", "when", "equals"],
        properties: {
          field: { type: "string", title: "Required field", watch: { fields: "root.fields" }, enumSource: fieldKeys() },
          when: { type: "string", title: "When field", watch: { fields: "root.fields" }, enumSource: fieldKeys() },
          equals: { type: "string", title: "Equals (value)" },
        },
      },
    },
  },
};

function fieldKeys() {
  return [{ source: "fields", value: "{{ item.key }}", title: "{{ item.title_zh }} ({{ item.key }})" }];
}

function kindOf(spec) {
  const { type, format } = spec;
  if (Array.isArray(spec.enum) && type === "string") return "choice";
  if (type === "string" && ["department-member", "item-unit", "date"].includes(format)) return format;
  if (type === "string" && format === undefined) return (spec.maxLength ?? LONG_TEXT + 1) > LONG_TEXT ? "textarea" : "text";
  if ((type === "number" || type === "integer") && format === undefined) return "number";
  return "other";
}

const text = (value) => (value === undefined ? "" : String(value));

// A condition this editor writes: when W is V (W sent), these fields are required.
function asConditions(rule) {
  const when = Object.keys(rule.if?.properties || {});
  const required = rule.then?.required || [];
  const shaped =
    when.length === 1 &&
    "const" in rule.if.properties[when[0]] &&
    JSON.stringify(rule.if.required) === JSON.stringify(when) &&
    Object.keys(rule).length === 2 &&
    required.length > 0 &&
    Object.keys(rule.then).every((key) => key === "required" || key === "properties") &&
    Object.entries(rule.then.properties || {}).every(
      ([name, spec]) => required.includes(name) && JSON.stringify(spec) === '{"minLength":1}',
    );
  if (!shaped) return null;
  const equals = text(rule.if.properties[when[0]].const);
  return required.map((field) => ({ field, when: when[0], equals }));
}

/** The schema as the field list, and what the list does not hold (kept by ``toSchema``). */
export function toFields(schema) {
  const [titleZh, titleEn] = split(schema.title);
  const required = schema.required || [];
  const fields = Object.entries(schema.properties || {}).map(([key, spec]) => {
    const [zh, en] = split(spec.title || key);
    const labels = spec["x-enum-labels"] || {};
    const kind = kindOf(spec);
    const field = { key, title_zh: zh, title_en: en, kind, required: required.includes(key) };
    if (kind === "text" || kind === "textarea") field.maxLength = text(spec.maxLength);
    if (kind === "number") Object.assign(field, { minimum: text(spec.minimum), maximum: text(spec.maximum) });
    if (kind === "choice") {
      field.choices = spec.enum.map((value) => {
        const [labelZh, labelEn] = split(labels[value] ?? "");
        return { value, label_zh: labelZh, label_en: labelEn };
      });
    }
    return field;
  });
  const rules = [...(schema.if ? [{ if: schema.if, then: schema.then }] : []), ...(schema.allOf || [])];
  const conditions = [];
  const otherRules = [];
  rules.forEach((rule) => {
    const read = asConditions(rule);
    if (read) conditions.push(...read);
    else otherRules.push(rule);
  });
  return { value: { title_zh: titleZh, title_en: titleEn, fields, conditions }, otherRules };
}

function propertyOf(field, kept) {
  const title = join(field.title_zh, field.title_en) || field.key;
  if (field.kind === "other") return { ...kept, title };
  const spec = { type: "string", title };
  if (field.kind === "number") {
    spec.type = kept.type === "integer" ? "integer" : "number";
    if ((field.minimum ?? "") !== "") spec.minimum = Number(field.minimum);
    if ((field.maximum ?? "") !== "") spec.maximum = Number(field.maximum);
  } else if (field.kind === "choice") {
    const choices = field.choices || [];
    spec.enum = choices.map((choice) => choice.value);
    const labels = choices.map((choice) => [choice.value, join(choice.label_zh, choice.label_en)]);
    if (labels.some(([value, label]) => label && label !== value)) {
      spec["x-enum-labels"] = Object.fromEntries(labels.map(([value, label]) => [value, label || value]));
    }
  } else if (field.kind === "text" || field.kind === "textarea") {
    if (field.required) spec.minLength = 1; // a blank answer is no answer
    const written = field.maxLength ?? "";
    spec.maxLength = written === "" ? (field.kind === "text" ? LONG_TEXT : 5000) : Number(written);
  } else {
    spec.format = field.kind; // date, department-member, item-unit
  }
  if (kept.description !== undefined) spec.description = kept.description;
  if (kept.default !== undefined) spec.default = kept.default;
  return spec;
}

/** The field list back as the form's JSON Schema, keeping what ``toFields`` could not show. */
export function toSchema(value, original, otherRules) {
  const byKey = Object.fromEntries(value.fields.map((field) => [field.key, field]));
  const properties = Object.fromEntries(
    value.fields.map((field) => [field.key, propertyOf(field, original.properties?.[field.key] || {})]),
  );
  const grouped = new Map(); // one rule per "when W is V", requiring each of its fields
  value.conditions.forEach(({ field, when, equals }) => {
    const id = JSON.stringify([when, equals]);
    if (!grouped.has(id)) grouped.set(id, { when, equals, fields: [] });
    grouped.get(id).fields.push(field);
  });
  const rules = [...grouped.values()].map(({ when, equals, fields }) => {
    const isNumber = byKey[when]?.kind === "number";
    const then = { required: fields };
    const strings = fields.filter((name) => properties[name]?.type === "string");
    if (strings.length) then.properties = Object.fromEntries(strings.map((name) => [name, { minLength: 1 }]));
    return {
      if: { properties: { [when]: { const: isNumber ? Number(equals) : equals } }, required: [when] },
      then: { ...(then.properties ? { properties: then.properties } : {}), required: fields },
    };
  });
  const { properties: _p, required: _r, if: _i, then: _t, allOf: _a, additionalProperties, ...rest } = original;
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...rest,
    title: join(value.title_zh, value.title_en),
    type: "object",
    properties,
  };
  const required = value.fields.filter((field) => field.required).map((field) => field.key);
  if (required.length) schema.required = required;
  const all = [...rules, ...otherRules];
  if (all.length === 1 && rules.length === 1) Object.assign(schema, all[0]); // as review.json writes one
  else if (all.length) schema.allOf = all;
  schema.additionalProperties = additionalProperties ?? false;
  return schema;
}

/** A json-editor custom validator for what JSON Schema alone cannot say about the list; ``t`` translates. */
export const fieldChecker = (t) => (schema, value, path) => {
  if (path !== "root") return [];
  const errors = [];
  const say = (where, message) => errors.push({ path: where, property: "format", message: t(message) });
  const keys = value.fields.map((field) => field.key);
  value.fields.forEach((field, i) => {
    const at = `root.fields.${i}`;
    if (keys.indexOf(field.key) !== i) say(`${at}.key`, "Another field has this key");
    const longest = (field.maxLength ?? "") === "" ? null : Number(field.maxLength);
    if (field.kind === "text" && longest > LONG_TEXT) say(`${at}.maxLength`, "Text holds at most 200: use long text");
    if (field.kind === "textarea" && longest !== null && longest <= LONG_TEXT) {
      say(`${at}.maxLength`, "Long text holds more than 200: use text");
    }
    if (field.kind === "choice" && !(field.choices || []).length) say(`${at}.choices`, "A choice needs choices");
    const [low, high] = [field.minimum, field.maximum].map((n) => ((n ?? "") === "" ? null : Number(n)));
    if (field.kind === "number" && low !== null && high !== null && low > high) {
      say(`${at}.maximum`, "The maximum is below the minimum");
    }
  });
  value.conditions.forEach((condition, i) => {
    if (!keys.includes(condition.field) || !keys.includes(condition.when)) {
      say(`root.conditions.${i}`, "The condition names a field the form does not have");
    } else if (condition.field === condition.when) {
      say(`root.conditions.${i}.field`, "A field cannot require itself");
    }
  });
  return errors;
};
