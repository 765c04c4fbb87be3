// The `translate` service of bpmn-js and dmn-js (both take diagram-js's): a template looked up in a
// dictionary, then its {placeholders} filled in. The pages pass Chinese or nothing (English as shipped).

/** A bpmn-js / dmn-js module replacing the default `translate` service with one reading `dictionary`. */
export function translateModule(dictionary) {
  const translate = (template, replacements = {}) =>
    (dictionary[template] || template).replace(/{([^}]+)}/g, (_, key) => replacements[key] ?? `{${key}}`);
  return { translate: ["value", translate] };
}
