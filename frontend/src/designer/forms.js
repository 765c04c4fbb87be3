// The form editor beside the diagram: the selected user task's form (its camunda:formKey) edited as a
// field list, previewed by the server's task page renderer, and sent with the diagram on validate/deploy.
//
// The editing surface is json-editor (@json-editor/json-editor): maintained, plain JS without
// dependencies, and it draws a whole editing form from a JSON Schema, so our field list is one schema
// (formschema.js) and the tabs per field, choice tables, add/move/delete and the messages beside the
// inputs are the library's. vanilla-jsoneditor edits raw JSON as a tree, and the form builders found are
// React apps. Bundled from its ES sources: the prebuilt dist adds core-js polyfills no supported browser needs.
import { JSONEditor } from "@json-editor/json-editor/src/core.js";
import { FIELD_LIST, fieldChecker, toFields, toSchema } from "./formschema.js";
import { editorWords, labels } from "./formzh.js";

const PREVIEW_DELAY = 300; // ms of quiet before the preview is asked for again

const emptyForm = (title) => ({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title,
  type: "object",
  properties: {},
  additionalProperties: false,
});

export class FormPanel {
  constructor(root, modeler, { lang, deployed, previewUrl, csrf, onEdit }) {
    this.modeler = modeler;
    // the latest version's forms by key, sent as their text (their fields' order kept)
    this.deployed = Object.fromEntries(Object.entries(deployed).map(([key, text]) => [key, JSON.parse(text)]));
    this.edited = {}; // forms changed here by key: sent with the diagram, kept in the draft
    this.problems = [];
    this.previewUrl = previewUrl;
    this.csrf = csrf;
    this.onEdit = onEdit;
    this.asked = 0; // the latest preview asked for: an older answer arriving late is dropped
    const chinese = lang.startsWith("zh");
    this.t = (text) => (chinese && labels[text]) || text;
    this.options = {
      theme: "html",
      iconlib: null,
      schema: translated(FIELD_LIST, this.t),
      disable_edit_json: true,
      disable_properties: true,
      disable_collapse: true,
      disable_array_delete_all_rows: true,
      disable_array_delete_last_row: true,
      show_errors: "always",
      custom_validators: [fieldChecker(this.t)],
      ...(chinese ? { translate: translateEditor } : {}),
    };
    const part = (name) => root.querySelector(`[data-form-${name}]`);
    this.view = {
      hint: part("hint"),
      none: part("none"),
      body: part("body"),
      key: part("key"),
      newKey: part("new-key"),
      editor: part("editor"),
      preview: part("preview"),
      problems: part("problems"),
    };
    part("create").addEventListener("click", () => this.create());
    modeler.on("selection.changed", ({ newSelection }) => this.select(newSelection.length === 1 ? newSelection[0] : null));
    modeler.on("element.changed", ({ element }) => {
      if (element === this.element && this.formKey() !== this.key) this.select(element);
    });
  }

  formKey() {
    return this.element?.businessObject.get("camunda:formKey") || null;
  }

  /** The forms to send with the diagram: those edited here that a user task still names. */
  toSend() {
    const named = new Set(
      this.modeler
        .get("elementRegistry")
        .filter((element) => element.type === "bpmn:UserTask")
        .map((element) => element.businessObject.get("camunda:formKey")),
    );
    return Object.entries(this.edited).filter(([key]) => named.has(key));
  }

  /** A draft's edited forms, back in the editor. */
  restore(edited) {
    this.edited = { ...(edited || {}) };
    this.select(this.element);
  }

  select(element) {
    this.element = element && element.type === "bpmn:UserTask" ? element : null;
    this.key = this.formKey();
    this.editor?.destroy();
    this.editor = null;
    const { hint, none, body, key, newKey } = this.view;
    hint.hidden = this.element !== null;
    none.hidden = this.element === null || this.key !== null;
    body.hidden = this.key === null;
    if (this.element && !this.key) newKey.value = `${this.element.id}.json`;
    if (this.key) {
      key.textContent = this.key;
      this.open();
    }
  }

  /** A form for a task without one: its key set on the task, an empty form edited from there. */
  create() {
    const key = this.view.newKey.value.trim();
    if (!key) return;
    if (!this.deployed[key] && !this.edited[key]) {
      this.edited[key] = emptyForm(this.element.businessObject.name || "");
    }
    // element.changed shows the new form (select)
    this.modeler.get("modeling").updateProperties(this.element, { "camunda:formKey": key });
  }

  open() {
    const key = this.key;
    const original = this.edited[key] || this.deployed[key] || emptyForm(this.element.businessObject.name || "");
    if (!this.deployed[key]) this.edited[key] = original; // a new form is an edit from the start
    const { value, otherRules } = toFields(original);
    const editor = new JSONEditor(this.view.editor, { ...this.options, startval: value });
    this.editor = editor;
    let baseline = null;
    editor.on("ready", () => {
      baseline = JSON.stringify(toSchema(editor.getValue(), original, otherRules));
      this.preview(original);
    });
    editor.on("change", () => {
      if (baseline === null || this.editor !== editor) return; // the start value, or a closed editor
      const schema = toSchema(editor.getValue(), original, otherRules);
      const written = JSON.stringify(schema);
      if (written === baseline && !this.edited[key]) return;
      this.edited[key] = schema;
      this.onEdit();
      this.preview(schema);
    });
    this.showProblems(this.problems);
  }

  preview(schema) {
    clearTimeout(this.waiting);
    const asked = ++this.asked;
    const key = this.key;
    this.waiting = setTimeout(async () => {
      let response, answer;
      try {
        response = await fetch(`${this.previewUrl}?key=${encodeURIComponent(key)}`, {
          method: "POST",
          body: JSON.stringify(schema),
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf() },
        });
        answer = await response.text();
      } catch (error) {
        response = { ok: false, headers: new Headers() };
        answer = String(error); // offline, server gone: said in the preview's place
      }
      if (asked !== this.asked) return;
      const box = this.view.preview;
      box.dataset.state = response.ok ? "ok" : "refused";
      if (response.ok) {
        box.innerHTML = answer; // the server's template, escaped there
      } else {
        const problem = response.headers.get("Content-Type") === "application/problem+json";
        box.textContent = problem ? JSON.parse(answer).detail : answer.startsWith("<") ? response.status : answer;
      }
    }, PREVIEW_DELAY);
  }

  /** The lint's findings from validate/deploy that name a form: those of the shown form, listed in the panel. */
  showProblems(errors) {
    this.problems = errors.filter((error) => error.form);
    const list = this.view.problems;
    list.replaceChildren(
      ...this.problems
        .filter((error) => error.form === this.key)
        .map((error) => {
          const line = document.createElement("li");
          line.textContent = error.message;
          return line;
        }),
    );
    list.hidden = list.children.length === 0;
  }
}

/** The field list's schema with its titles in the page's language (json-editor names buttons after them too). */
function translated(node, t) {
  if (Array.isArray(node)) return node.map((inner) => translated(inner, t));
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => {
      if (key === "title" && typeof value === "string") return [key, t(value)];
      if (key === "enum_titles") return [key, value.map(t)];
      return [key, translated(value, t)];
    }),
  );
}

function translateEditor(key, variables) {
  let said = editorWords[key] || JSONEditor.defaults.languages.en[key] || key;
  (variables || []).forEach((value, i) => {
    said = said.replaceAll(`{{${i}}}`, value);
  });
  return said;
}
