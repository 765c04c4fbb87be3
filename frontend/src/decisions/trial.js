// 试算 Evaluate: one field per variable the draft table's inputs read, sent with the draft itself to the
// page's evaluate endpoint (the engine's draft mode: nothing is stored). The fields follow the table as it
// is edited; a value the field's type refuses is said beside it, the engine's refusals on the table.

import { answerOf } from "./answer.js";

// A Python name (the engine's inputs are read from the data by their expression): one field for it.
const NAME = /^[\p{L}_][\p{L}\p{N}_]*$/u;
const INTEGERS = new Set(["integer", "long"]);
const NUMBERS = new Set(["number", "double"]);

/** The variables the table's inputs read: [{name, label, type}], and the expressions that are not names. */
export function variablesOf(decisionTable) {
  const byName = new Map();
  const others = [];
  for (const input of decisionTable.input || []) {
    const expression = (input.inputExpression?.text || "").trim();
    const type = input.inputExpression?.typeRef || "";
    if (!NAME.test(expression)) {
      if (expression) others.push(expression);
      continue;
    }
    if (!byName.has(expression)) byName.set(expression, { name: expression, label: input.label || expression, type });
  }
  return { variables: [...byName.values()], others };
}

export class Trial {
  constructor(panel, { url, csrf, texts, draft, marks }) {
    this.panel = panel;
    this.url = url;
    this.csrf = csrf;
    this.texts = texts;
    this.draft = draft;
    this.marks = marks;
    this.fields = panel.querySelector("[data-trial-fields]");
    this.other = panel.querySelector("[data-trial-other]");
    this.result = panel.querySelector("[data-trial-result]");
    this.variables = [];
    panel.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
  }

  /** Draw the fields for the table as it is now, keeping what was typed into the fields that remain. */
  show(decisionTable) {
    const { variables, others } = variablesOf(decisionTable);
    const signature = JSON.stringify([variables.map(({ name, type, label }) => [name, type, label]), others]);
    if (signature === this.signature) {
      this.variables = variables;
      return;
    }
    this.signature = signature;
    const typed = Object.fromEntries([...this.fields.querySelectorAll("[name]")].map((f) => [f.name, f.value]));
    this.fields.replaceChildren(...variables.map((variable) => this.field(variable, typed[variable.name] ?? "")));
    this.variables = variables;
    this.other.hidden = others.length === 0;
    this.other.querySelector("[data-trial-expressions]").textContent = others.join(", ");
  }

  field({ name, label, type }, value) {
    const wrapper = document.createElement("div");
    wrapper.className = "field";
    wrapper.dataset.variable = name;
    const id = `trial-${name}`;
    const caption = document.createElement("label");
    caption.htmlFor = id;
    caption.textContent = label === name ? name : `${label} (${name})`;
    let control;
    if (type === "boolean") {
      control = document.createElement("select");
      for (const [optionValue, text] of [["", "—"], ["true", this.texts.yes], ["false", this.texts.no]]) {
        control.add(new Option(text, optionValue));
      }
    } else {
      control = document.createElement("input");
      control.type = "text";
      if (INTEGERS.has(type) || NUMBERS.has(type)) control.inputMode = "decimal";
    }
    control.id = id;
    control.name = name;
    control.value = value;
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = type ? `${this.texts.type}${type}` : "";
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    wrapper.append(caption, control, hint, error);
    return wrapper;
  }

  /** The data to send, by variable name; {errors} when a field cannot be read as its type. */
  read() {
    const data = {};
    const errors = {};
    for (const { name, type } of this.variables) {
      const text = this.fields.querySelector(`[name="${CSS.escape(name)}"]`).value.trim();
      if (text === "") data[name] = null; // left empty: None, as a missing value reads in a run
      else if (type === "boolean") data[name] = text === "true";
      else if (INTEGERS.has(type) || NUMBERS.has(type)) {
        const number = Number(text);
        if (!Number.isFinite(number)) errors[name] = this.texts.notNumber;
        else if (INTEGERS.has(type) && !Number.isInteger(number)) errors[name] = this.texts.notInteger;
        else data[name] = number;
      } else data[name] = text;
    }
    if (!this.other.hidden) {
      const text = this.other.querySelector("textarea").value.trim();
      try {
        const extra = text ? JSON.parse(text) : {};
        if (typeof extra !== "object" || extra === null || Array.isArray(extra)) throw new Error();
        Object.assign(data, extra);
      } catch {
        errors[""] = this.texts.notJson;
      }
    }
    return { data, errors };
  }

  sayBeside(errors) {
    for (const wrapper of this.panel.querySelectorAll(".field")) {
      const message = errors[wrapper.dataset.variable ?? ""];
      const error = wrapper.querySelector(".error");
      wrapper.classList.toggle("invalid", Boolean(message));
      error.hidden = !message;
      error.textContent = message || "";
    }
  }

  async run() {
    this.marks.matched([]);
    this.marks.clearProblems();
    const { data, errors } = this.read();
    this.sayBeside(errors);
    if (Object.keys(errors).length) {
      this.say(this.texts.fix, "error");
      return;
    }
    const response = await fetch(this.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf() },
      body: JSON.stringify({ inputs: data, dmn: await this.draft() }),
    });
    const result = await answerOf(response);
    if (!response.ok) {
      this.refused(result);
      return;
    }
    this.marks.matched(result.matched_rules);
    this.shown(result);
  }

  /** The engine's refusal (an expression that failed on these values, a draft it cannot read), on the elements
   * it names. */
  refused(problem) {
    (problem.errors || []).forEach(({ element }) => element && this.marks.problem(element));
    this.say(problem.detail, "error");
  }

  shown({ outputs, matched_rules: matched, problem }) {
    const list = Array.isArray(outputs) ? outputs : outputs ? [outputs] : [];
    const lines = [`${this.texts.matched}${matched.length ? matched.join(", ") : this.texts.none}`];
    if (problem) lines.push(problem);
    this.say(lines.join("\n"), problem ? "error" : "ok");
    if (list.length === 0) return;
    const table = document.createElement("table");
    table.className = "grid";
    table.dataset.trialOutputs = "";
    const names = Object.keys(list[0]);
    table.createTHead().insertRow().append(...names.map((name) => Object.assign(document.createElement("th"), { textContent: name })));
    const body = table.createTBody();
    for (const row of list) {
      const line = body.insertRow();
      for (const name of names) line.insertCell().textContent = JSON.stringify(row[name]);
    }
    this.result.append(table);
  }

  say(text, kind) {
    const status = document.createElement("p");
    status.className = "status";
    status.dataset.kind = kind;
    status.textContent = text;
    this.result.replaceChildren(status);
  }
}
